// Test fixtures of the ext_authz adapter and policy distribution: a small mesh's snapshot and
// CheckRequests shaped as Envoy sends them (not exported from the package).
import { type AuthzSnapshot, authzSnapshot } from '../model/authz-snapshot.js';
import { buildPolicySet } from '../model/build-policy-set.js';
import type { Operation, PolicyDocument, Rule, StringPattern } from '../model/policy.js';

/** The trust domain of the fixtures. */
export const TD = 'spiffe://example.org';
/** The SPIFFE ID of the fixture workload the policies protect. */
export const BACKEND = `${TD}/backend`;
/** The SPIFFE ID of the fixture workload that calls it. */
export const FRONTEND = `${TD}/frontend`;

const sp = (text: string): StringPattern =>
  text.endsWith('*')
    ? { kind: 'prefix', value: text.slice(0, -1), text }
    : { kind: 'exact', value: text, text };
const op = (o: Partial<Operation>): Operation => ({
  hosts: [],
  notHosts: [],
  methods: [],
  notMethods: [],
  paths: [],
  notPaths: [],
  ports: [],
  notPorts: [],
  ignoreCase: false,
  ...o,
});
const rule = (name: string, r: Partial<Omit<Rule, 'name'>>): Rule => ({
  name,
  from: [],
  to: [],
  roles: [],
  when: [],
  ...r,
});
const policy = (
  name: string,
  action: PolicyDocument['action'],
  rules: Rule[],
  dryRun = false,
): PolicyDocument => ({
  metadata: { name },
  selector: { services: ['backend'], spiffeIds: [] },
  action,
  rules,
  dryRun,
  roles: [],
});

/**
 * A mesh with a default of DENY, where `backend` admits the frontend's GET/POST on `/api/*`,
 * callers whose JWT says `group: admins` on `/claims/*`, and anyone on `/port/*` of port 8080;
 * denies `x-role: guest` and `/admin/*`; and a dry-run DENY of POST ("would deny").
 */
export function testSnapshot(version = 'commit-1'): AuthzSnapshot {
  const documents: PolicyDocument[] = [
    {
      metadata: { name: 'mesh' },
      action: 'ALLOW',
      rules: [],
      dryRun: false,
      defaultAction: 'DENY',
      roles: [],
    },
    policy('backend-allow', 'ALLOW', [
      rule('frontend-api', {
        from: [
          { principals: [sp(FRONTEND)], notPrincipals: [], trustDomains: [], notTrustDomains: [] },
        ],
        to: [op({ methods: ['GET', 'POST'], paths: [sp('/api/*')] })],
      }),
      rule('admins', {
        to: [op({ paths: [sp('/claims/*')] })],
        when: [{ kind: 'claim', path: ['group'], values: [sp('admins')], notValues: [] }],
      }),
      rule('port', { to: [op({ paths: [sp('/port/*')], ports: [8080] })] }),
    ]),
    policy('backend-deny', 'DENY', [
      rule('guests', {
        when: [{ kind: 'header', name: 'x-role', values: [sp('guest')], notValues: [] }],
      }),
      rule('admin-path', { to: [op({ paths: [sp('/admin/*')] })] }),
    ]),
    policy('backend-dry', 'DENY', [rule('no-post', { to: [op({ methods: ['POST'] })] })], true),
  ];
  return authzSnapshot(version, buildPolicySet(documents), [
    {
      service: 'backend',
      spiffeId: BACKEND,
      ports: [8080],
      attributes: { environment: 'prod', team: 'shop' },
    },
    { service: 'frontend', spiffeId: FRONTEND, ports: [80], attributes: { team: 'shop' } },
  ]);
}

/** What a test CheckRequest says; everything has a default (frontend GET /api/items). */
export interface TestCheck {
  source?: string;
  sourceAddress?: string;
  destination?: string;
  port?: number;
  method?: string;
  host?: string;
  path?: string;
  requestId?: string;
  /** Sent as `header_map` entries with `raw_value` (encode_raw_headers), in order. */
  headers?: readonly (readonly [string, string | Buffer])[];
  /** Sent as the legacy `headers` map instead (comma-joined by Envoy). */
  headerMap?: Record<string, string>;
  /** The JWT filter's payload, as a google.protobuf.Value (camelCase, as the loader names it). */
  payload?: unknown;
}

/** A CheckRequest as Envoy's ext_authz filter sends it (proto field names). */
export function checkRequest(t: TestCheck = {}): Record<string, unknown> {
  const requestId = t.requestId ?? 'req-1';
  const headers: (readonly [string, string | Buffer])[] = [
    [':authority', t.host ?? 'backend'],
    [':path', t.path ?? '/api/items'],
    [':method', t.method ?? 'GET'],
    ['x-request-id', requestId],
    ...(t.headers ?? []),
  ];
  return {
    attributes: {
      source: {
        address: { socket_address: { address: t.sourceAddress ?? '127.0.0.1', port_value: 40000 } },
        principal: t.source ?? FRONTEND,
      },
      destination: {
        address: { socket_address: { address: '127.0.0.1', port_value: t.port ?? 15006 } },
        principal: t.destination ?? BACKEND,
      },
      request: {
        http: {
          id: requestId,
          method: t.method ?? 'GET',
          host: t.host ?? 'backend',
          path: t.path ?? '/api/items',
          protocol: 'HTTP/1.1',
          ...(t.headerMap !== undefined
            ? { headers: t.headerMap }
            : {
                header_map: {
                  headers: headers.map(([key, v]) => ({
                    key,
                    raw_value: typeof v === 'string' ? Buffer.from(v) : v,
                  })),
                },
              }),
        },
      },
      ...(t.payload !== undefined && {
        metadata_context: {
          filter_metadata: { 'envoy.filters.http.jwt_authn': { fields: { payload: t.payload } } },
        },
      }),
    },
  };
}

/** A google.protobuf.Value of plain JSON, as the proto loader names its fields. */
export function protoValue(v: unknown): unknown {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(protoValue) } };
  return {
    structValue: {
      fields: Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, protoValue(x)]),
      ),
    },
  };
}
