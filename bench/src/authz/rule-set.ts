// The Check benchmark's one description of its policy and requests, rendered twice: as mesh config
// YAML (AuthorizationPolicy documents for Parley) and as a Rego module (for OPA). ALLOW rule i lets
// spiffe://example.org/svc-<i> call /api/<i>/* with the methods methodsOf(i); four DENY rules
// (internal paths, quarantined callers, DELETE, an x-debug header) beat them; the mesh default is
// DENY. Requests are drawn from a seeded generator: about half are allowed, and they hit rules
// spread over the whole set.

/** The trust domain of every principal. */
export const TRUST_DOMAIN = 'example.org';

/** The workload every request is addressed to (authz-load sends this destination principal). */
export const DESTINATION = { service: 'api', spiffeId: `spiffe://${TRUST_DOMAIN}/api`, port: 8080 };

/** The OPA decision the Rego module defines, as a query and as a REST path. */
export const REGO_QUERY = 'data.parley.authz.allow';
export const REGO_REST_PATH = '/v1/data/parley/authz/allow';

/** A request of the stream, in the form bench/go/authz-load reads, with its expected decision. */
export interface BenchRequest {
  readonly principal: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly expected: 'allow' | 'deny';
  /** Which case of the mix it is (for error messages). */
  readonly kind: string;
}

const RULES_PER_POLICY = 100;
const METHOD_SETS = [['GET'], ['GET', 'POST'], ['GET', 'POST', 'PUT']] as const;

const principalOf = (i: number) => `spiffe://${TRUST_DOMAIN}/svc-${i}`;
const methodsOf = (i: number): readonly string[] => METHOD_SETS[i % METHOD_SETS.length] ?? [];

/** The mesh config files (path and YAML text) of `rules` ALLOW rules and the DENY rules. */
export function policyYaml(rules: number): { path: string; text: string }[] {
  const files = [
    {
      path: 'services/api.yaml',
      text: [
        'apiVersion: parley.dev/v1',
        'kind: Service',
        `metadata: { name: ${DESTINATION.service} }`,
        'spec:',
        `  spiffeId: ${DESTINATION.spiffeId}`,
        `  ports: [{ name: http, port: ${DESTINATION.port} }]`,
        '',
      ].join('\n'),
    },
    {
      path: 'authz/mesh.yaml',
      text: [
        'apiVersion: parley.dev/v1',
        'kind: AuthorizationPolicy',
        'metadata: { name: mesh }',
        'spec: { defaultAction: DENY }',
        '',
      ].join('\n'),
    },
    {
      path: 'authz/api-deny.yaml',
      text: [
        'apiVersion: parley.dev/v1',
        'kind: AuthorizationPolicy',
        'metadata: { name: api-deny }',
        'spec:',
        `  selector: { services: [${DESTINATION.service}] }`,
        '  action: DENY',
        '  rules:',
        '    - name: internal-paths',
        '      to: [{ paths: ["/api/{*}/internal/{**}"] }]',
        '    - name: quarantined-callers',
        `      from: [{ principals: ["spiffe://${TRUST_DOMAIN}/quarantine/*"] }]`,
        '    - name: no-delete',
        '      to: [{ methods: [DELETE] }]',
        '    - name: debug-header',
        '      when: [{ key: "request.headers[x-debug]", values: ["*"] }]',
        '',
      ].join('\n'),
    },
  ];
  for (let p = 0; p * RULES_PER_POLICY < rules; p++) {
    const lines = [
      'apiVersion: parley.dev/v1',
      'kind: AuthorizationPolicy',
      `metadata: { name: api-allow-${String(p).padStart(3, '0')} }`,
      'spec:',
      `  selector: { services: [${DESTINATION.service}] }`,
      '  action: ALLOW',
      '  rules:',
    ];
    for (let i = p * RULES_PER_POLICY; i < Math.min(rules, (p + 1) * RULES_PER_POLICY); i++) {
      lines.push(
        `    - name: svc-${i}`,
        `      from: [{ principals: [${principalOf(i)}] }]`,
        `      to: [{ methods: [${methodsOf(i).join(', ')}], paths: [/api/${i}/*] }]`,
      );
    }
    files.push({ path: `authz/api-allow-${p}.yaml`, text: lines.join('\n') + '\n' });
  }
  return files;
}

/**
 * The same policy as a Rego module (input: the CheckRequest as OPA's Envoy plugin presents it).
 * Each ALLOW rule compares input refs with constants, so OPA's rule index picks the candidates.
 */
export function policyRego(rules: number): string {
  const http = 'input.attributes.request.http';
  const lines = [
    'package parley.authz',
    '',
    'default allow := false',
    '',
    'allow if {',
    '\tnot deny',
    '\tallowed',
    '}',
    '',
    '# /api/{*}/internal/{**}',
    `deny if regex.match(\`^/api/[^/]+/internal(/.*)?$\`, ${http}.path)`,
    '',
    `deny if startswith(input.attributes.source.principal, "spiffe://${TRUST_DOMAIN}/quarantine/")`,
    '',
    `deny if upper(${http}.method) == "DELETE"`,
    '',
    `deny if ${http}.headers["x-debug"]`,
    '',
  ];
  for (let i = 0; i < rules; i++) {
    const methods = methodsOf(i)
      .map((m) => `"${m}"`)
      .join(', ');
    lines.push(
      'allowed if {',
      `\tinput.attributes.source.principal == "${principalOf(i)}"`,
      `\t${http}.method in {${methods}}`,
      `\tstartswith(concat("", [${http}.path, "/"]), "/api/${i}/")`,
      '}',
      '',
    );
  }
  return lines.join('\n');
}

/** mulberry32: a small seeded generator, so every run sends the same requests. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` requests against `rules` ALLOW rules: about half allowed, the rest denied 7 ways. */
export function benchRequests(rules: number, count: number, seed = 6): BenchRequest[] {
  if (!Number.isInteger(rules) || rules < 2) throw new RangeError('at least 2 rules are needed');
  const random = seeded(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const out: BenchRequest[] = [];
  for (let n = 0; n < count; n++) {
    const i = int(rules);
    const principal = principalOf(i);
    const method = pick(methodsOf(i));
    const path = `/api/${i}/items/${int(1000)}`;
    const base = { principal, method, host: DESTINATION.service, path };
    const r = random();
    if (r < 0.5) {
      out.push({ ...base, expected: 'allow', kind: 'allowed' });
    } else if (r < 0.6) {
      const other = METHOD_SETS[2].find((m) => !methodsOf(i).includes(m)) ?? 'PATCH';
      out.push({ ...base, method: other, expected: 'deny', kind: 'method not granted' });
    } else if (r < 0.7) {
      const j = (i + 1 + int(rules - 1)) % rules;
      out.push({
        ...base,
        path: `/api/${j}/items/1`,
        expected: 'deny',
        kind: 'path of another rule',
      });
    } else if (r < 0.78) {
      const path = `/api/${i}/internal/${pick(['', 'keys', 'keys/1'])}`.replace(/\/$/, '');
      out.push({ ...base, path, expected: 'deny', kind: 'DENY internal path' });
    } else if (r < 0.83) {
      out.push({ ...base, method: 'DELETE', expected: 'deny', kind: 'DENY DELETE' });
    } else if (r < 0.88) {
      const quarantined = `spiffe://${TRUST_DOMAIN}/quarantine/svc-${i}`;
      out.push({ ...base, principal: quarantined, expected: 'deny', kind: 'DENY quarantined' });
    } else if (r < 0.93) {
      out.push({ ...base, headers: { 'x-debug': '1' }, expected: 'deny', kind: 'DENY x-debug' });
    } else {
      const stranger = principalOf(rules + int(rules));
      out.push({ ...base, principal: stranger, expected: 'deny', kind: 'no rule for caller' });
    }
  }
  return out;
}
