import { checkAuthorizationPolicies } from './read-authorization-policy.js';
import type {
  AuthorizationPolicy,
  MeshConfig,
  Route,
  RouteMatch,
  SecretPolicyDocument,
  Service,
  TokenPolicyDocument,
  TrafficPolicy,
} from './mesh-config.js';
import { formatSocketAddress } from './read-common.js';

/** A document read from one file, before the checks that span documents. */
export type MeshDocument =
  | Service
  | Route
  | TrafficPolicy
  | AuthorizationPolicy
  | SecretPolicyDocument
  | TokenPolicyDocument;

/** Reports a problem at a field path of a document. */
export type ReportProblem = (doc: MeshDocument, path: string, message: string) => void;

const where = (doc: MeshDocument) => `${doc.source.file}:${doc.source.line}`;

function byName<T extends MeshDocument>(docs: readonly T[], report: ReportProblem): Map<string, T> {
  const out = new Map<string, T>();
  for (const d of docs) {
    const first = out.get(d.metadata.name);
    if (first === undefined) out.set(d.metadata.name, d);
    else
      report(
        d,
        'metadata.name',
        `duplicate ${d.kind} "${d.metadata.name}" (first at ${where(first)})`,
      );
  }
  return out;
}

/** A canonical text of a match, to find duplicate (hence unreachable) rules. */
function matchKey(m: RouteMatch): string {
  const headers = [...m.headers].map((h) => JSON.stringify(h)).sort();
  return JSON.stringify([m.path ?? null, headers, m.method ?? null]);
}

const matchesAll = (m: RouteMatch) =>
  m.method === undefined &&
  m.headers.length === 0 &&
  (m.path === undefined || ('prefix' in m.path && m.path.prefix === '/'));

/**
 * The checks that span documents (STYLE rule 6: no dangling references): unique names, unique
 * SPIFFE IDs and inbound addresses, references to services that exist, weights that sum to 100,
 * one Route and one TrafficPolicy per host, no unreachable rules. Returns the config with route
 * weights settled; every problem goes to `report`. `unreadServices` names Services whose
 * documents could not be read (their problems are reported already).
 */
export function checkMesh(
  docs: readonly MeshDocument[],
  unreadServices: ReadonlySet<string>,
  report: ReportProblem,
): MeshConfig {
  const of = <K extends MeshDocument['kind']>(kind: K) =>
    docs.filter((d): d is Extract<MeshDocument, { kind: K }> => d.kind === kind);
  const services = byName(of('Service'), report);
  const routes = byName(of('Route'), report);
  const policies = byName(of('TrafficPolicy'), report);
  const authz = byName(of('AuthorizationPolicy'), report);
  const secretPolicies = byName(of('SecretPolicy'), report);
  const tokenPolicies = byName(of('TokenPolicy'), report);

  const ids = new Map<string, Service>();
  const inbound = new Map<string, string>();
  for (const s of services.values()) {
    const id = s.spiffeId.toString();
    const other = ids.get(id);
    if (other !== undefined) {
      report(
        s,
        'spec.spiffeId',
        `SPIFFE ID ${id} is already the identity of Service "${other.metadata.name}"`,
      );
    } else {
      ids.set(id, s);
    }
    s.endpoints.forEach((e, i) => {
      const addr = formatSocketAddress(e.inbound);
      const owner = inbound.get(addr);
      if (owner !== undefined) {
        report(
          s,
          `spec.endpoints[${i}].inbound`,
          `${addr} is already the inbound address of ${owner}`,
        );
      } else {
        inbound.set(addr, `${s.metadata.name}/${e.name}`);
      }
    });
    s.sidecar.outbound?.forEach((name, i) => {
      if (!services.has(name) && !unreadServices.has(name)) {
        report(s, `spec.sidecar.outbound[${i}]`, `no Service named "${name}"`);
      }
    });
    const fallback = s.sidecar.defaultDestination;
    if (fallback !== undefined) {
      const target = services.get(fallback);
      const path = 'spec.sidecar.defaultDestination';
      if (target === undefined) {
        if (!unreadServices.has(fallback)) report(s, path, `no Service named "${fallback}"`);
      } else if (target.ports[0]?.protocol === 'tcp') {
        report(s, path, `"${fallback}" is a tcp service: only HTTP requests have a Host`);
      } else if (s.sidecar.outbound !== undefined && !s.sidecar.outbound.includes(fallback)) {
        report(s, path, `"${fallback}" is not in spec.sidecar.outbound`);
      }
    }
  }

  const serviceRef = (doc: MeshDocument, path: string, name: string): boolean => {
    const s = services.get(name);
    if (s === undefined) {
      // A Service whose document has problems of its own is not reported again as missing.
      if (!unreadServices.has(name)) report(doc, path, `no Service named "${name}"`);
      return false;
    }
    if (s.ports[0]?.protocol === 'tcp') {
      report(
        doc,
        path,
        `Service "${name}" is tcp; routes and traffic policies apply to HTTP services`,
      );
    }
    return true;
  };

  const routeByHost = new Map<string, Route>();
  const settledRoutes: Route[] = [];
  for (const r of routes.values()) {
    if (serviceRef(r, 'spec.host', r.host)) {
      const other = routeByHost.get(r.host);
      if (other !== undefined) {
        report(
          r,
          'spec.host',
          `Route "${other.metadata.name}" (${where(other)}) already routes host "${r.host}"`,
        );
      } else {
        routeByHost.set(r.host, r);
      }
    }
    if (r.rules.length === 0) report(r, 'spec.rules', 'must not be empty');
    const seen = new Map<string, number>();
    const names = new Map<string, number>();
    let catchAll: number | undefined;
    const rules = r.rules.map((rule, i) => {
      const at = `spec.rules[${i}]`;
      const n = names.get(rule.name);
      if (n !== undefined) report(r, `${at}.name`, `repeats the name of rules[${n}]`);
      else names.set(rule.name, i);
      const key = matchKey(rule.match);
      const same = seen.get(key);
      if (catchAll !== undefined) {
        report(r, `${at}`, `is unreachable: rules[${catchAll}] matches every request`);
      } else if (same !== undefined) {
        report(r, `${at}.match`, `is the same match as rules[${same}]: this rule is unreachable`);
      } else {
        seen.set(key, i);
      }
      if (catchAll === undefined && matchesAll(rule.match)) catchAll = i;
      if (rule.destinations.length === 0) report(r, `${at}.destinations`, 'must not be empty');
      const dests = new Set<string>();
      rule.destinations.forEach((d, j) => {
        serviceRef(r, `${at}.destinations[${j}].service`, d.service);
        if (dests.has(d.service)) {
          report(r, `${at}.destinations[${j}].service`, `"${d.service}" is listed twice`);
        }
        dests.add(d.service);
      });
      let destinations = rule.destinations;
      if (destinations.length === 1 && destinations[0]?.weight === -1) {
        destinations = [{ service: destinations[0].service, weight: 100 }];
      } else if (destinations.length > 0) {
        const missing = destinations.findIndex((d) => d.weight === -1);
        if (missing >= 0) {
          report(
            r,
            `${at}.destinations[${missing}].weight`,
            'is required when a rule has several destinations',
          );
        } else {
          const sum = destinations.reduce((a, d) => a + d.weight, 0);
          if (sum !== 100) report(r, `${at}.destinations`, `weights sum to ${sum}, not 100`);
        }
      }
      if (rule.mirror !== undefined) serviceRef(r, `${at}.mirror.service`, rule.mirror.service);
      return { ...rule, destinations };
    });
    settledRoutes.push({ ...r, rules });
  }

  const policyByHost = new Map<string, TrafficPolicy>();
  for (const p of policies.values()) {
    if (!serviceRef(p, 'spec.host', p.host)) continue;
    const other = policyByHost.get(p.host);
    if (other !== undefined) {
      report(
        p,
        'spec.host',
        `TrafficPolicy "${other.metadata.name}" (${where(other)}) already applies to host "${p.host}"`,
      );
    } else {
      policyByHost.set(p.host, p);
    }
  }

  checkAuthorizationPolicies([...authz.values()], [...services.values()], unreadServices, report);

  const sorted = <T extends MeshDocument>(m: ReadonlyMap<string, T>) =>
    [...m.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  return {
    services: sorted(services),
    routes: sorted(new Map(settledRoutes.map((r) => [r.metadata.name, r]))),
    trafficPolicies: sorted(policies),
    authorizationPolicies: sorted(authz),
    secretPolicies: sorted(secretPolicies),
    tokenPolicies: sorted(tokenPolicies),
  };
}
