import {
  type Bundle,
  ParleyError,
  encodePem,
  formatBundle,
  formatBundleMap,
  parseBundle,
  parseTrustDomain,
} from '@parley/core';
import type { BundleDto, BundleListDto } from '@parley/identity';
import { ADMIN_FLAGS, connect, parseAdminFlags } from './admin-flags.js';
import { COMMON_USAGE, commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const FORMATS = ['pem', 'spiffe', 'table', 'json', 'yaml'] as const;

/** Parses a bundle the server sent, with core's strict parser (the CLI's edge). */
function bundleOf(dto: BundleDto): Bundle {
  try {
    return parseBundle(parseTrustDomain(dto.trustDomain), dto.document);
  } catch (err) {
    throw new ParleyError(
      'internal',
      `the server sent a bundle that does not parse: ${(err as Error).message}`,
    );
  }
}

const hex = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? '-' : Buffer.from(bytes).toString('hex');
const time = (ms: number) => new Date(ms).toISOString();

/** A bundle's facts, for table, JSON and YAML output. */
function summary(b: Bundle) {
  return {
    trustDomain: b.trustDomain.name,
    sequenceNumber: b.sequenceNumber === undefined ? null : Number(b.sequenceNumber),
    refreshHint: b.refreshHint ?? null,
    x509Authorities: b.x509Authorities.map((c) => ({
      subjectKeyId: hex(c.subjectKeyId),
      notAfter: time(c.notAfter),
    })),
    jwtAuthorities: [...b.jwtAuthorities.keys()].map((keyId) => ({ keyId })),
  };
}

function pem(b: Bundle): string {
  return b.x509Authorities.map((c) => encodePem('CERTIFICATE', c.raw)).join('');
}

function renderSummary(b: Bundle): string {
  const s = summary(b);
  return renderFields([
    ['Trust domain', s.trustDomain],
    ['Sequence number', String(s.sequenceNumber ?? '-')],
    ['Refresh hint', s.refreshHint === null ? '-' : `${s.refreshHint}s`],
    [
      'X.509 authorities',
      s.x509Authorities.map((a) => `${a.subjectKeyId} (until ${a.notAfter})`).join(', ') || '-',
    ],
    ['JWT authorities', s.jwtAuthorities.map((a) => a.keyId).join(', ') || '-'],
  ]);
}

/** `parley bundle show|list [-o pem|spiffe|table|json|yaml]`: the trust bundles (pem by default). */
export const bundleCommand = commandGroup(
  'bundle',
  'trust bundles: bundle show|list [-o pem|spiffe|table|json|yaml]',
  `Usage:
  parley bundle show   the trust domain's own bundle
  parley bundle list   every bundle the server holds (its own and federated ones)
Output: -o pem (default: the X.509 authorities) | spiffe (the SPIFFE bundle JSON; for list, a
bundle map) | table | json | yaml
${COMMON_USAGE}`,
  {
    show: async (args, io) => {
      const { values } = parseAdminFlags(args, ADMIN_FLAGS);
      const format = outputFormat(values.output, FORMATS, 'pem');
      const b = bundleOf(await connect(values, io).get<BundleDto>('/v1/bundle'));
      io.stdout(
        format === 'pem'
          ? pem(b)
          : format === 'spiffe'
            ? `${formatBundle(b)}\n`
            : format === 'table'
              ? renderSummary(b)
              : renderData(format, summary(b)),
      );
      return 0;
    },
    list: async (args, io) => {
      const { values } = parseAdminFlags(args, ADMIN_FLAGS);
      const format = outputFormat(values.output, FORMATS, 'pem');
      const { bundles: dtos } = await connect(values, io).get<BundleListDto>('/v1/bundles');
      const bundles = dtos.map(bundleOf);
      switch (format) {
        case 'pem':
          // Text between PEM blocks is ignored by PEM readers: each bundle is labelled.
          io.stdout(bundles.map((b) => `# ${b.trustDomain.name}\n${pem(b)}`).join(''));
          break;
        case 'spiffe':
          io.stdout(`${formatBundleMap(bundles)}\n`);
          break;
        case 'table':
          io.stdout(
            renderTable(
              ['TRUST DOMAIN', 'SEQUENCE', 'X509 AUTHORITIES', 'JWT AUTHORITIES'],
              bundles.map((b) => [
                b.trustDomain.name,
                String(b.sequenceNumber ?? '-'),
                String(b.x509Authorities.length),
                String(b.jwtAuthorities.size),
              ]),
            ),
          );
          break;
        case 'json':
        case 'yaml':
          io.stdout(renderData(format, { bundles: bundles.map(summary) }));
          break;
      }
      return 0;
    },
  },
);
