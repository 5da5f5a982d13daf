import { invalidArgument } from '../errors.js';
import { isJsonObject, parseJson } from '../json/parse-json.js';
import { parseTrustDomain } from '../spiffe-id/trust-domain.js';
import { type Bundle, MAX_BUNDLE_BYTES, bundleFromJson, formatBundle } from './bundle.js';

/**
 * Parses a SPIFFE bundle map (SPIFFE Trust Domain and Bundle §5.1): a `trust_domains` object of
 * bundles keyed by trust domain name. Duplicate trust domain keys are rejected (§5.1.1, §6.3), as
 * is any key that is not a valid trust domain name.
 */
export function parseBundleMap(text: string): ReadonlyMap<string, Bundle> {
  const doc = parseJson(text, { maxLength: 16 * MAX_BUNDLE_BYTES });
  if (!isJsonObject(doc)) throw invalidArgument('invalid SPIFFE bundle map: not a JSON object');
  const domains = doc.get('trust_domains');
  if (domains === undefined)
    throw invalidArgument('invalid SPIFFE bundle map: "trust_domains" is required (§5.1.1)');
  if (!isJsonObject(domains))
    throw invalidArgument('invalid SPIFFE bundle map: "trust_domains" must be an object');
  const out = new Map<string, Bundle>();
  for (const [name, value] of domains) out.set(name, bundleFromJson(parseTrustDomain(name), value));
  return out;
}

/** Formats bundles as a SPIFFE bundle map, omitting each bundle's refresh hint (§5.1.1). */
export function formatBundleMap(bundles: Iterable<Bundle>): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const b of bundles) {
    if (seen.has(b.trustDomain.name)) throw new TypeError(`two bundles for ${b.trustDomain.name}`);
    seen.add(b.trustDomain.name);
    const { refreshHint: _omitted, ...rest } = b;
    parts.push(`${JSON.stringify(b.trustDomain.name)}:${formatBundle(rest)}`);
  }
  return `{"trust_domains":{${parts.join(',')}}}`;
}
