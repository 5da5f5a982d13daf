import { createPublicKey } from 'node:crypto';
import {
  type ConfigProblem,
  ObjectReader,
  isJsonArray,
  isJsonObject,
  parseJson,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import type { AuthzJwk, AuthzJwsAlgorithm, AuthzJwtHeader, AuthzJwtIssuer } from '@parley/api';
import type {
  AuthorizationPolicy,
  AuthzAttributeName,
  AuthzCidr,
  AuthzCondition,
  AuthzExpression,
  AuthzHostPattern,
  AuthzOperation,
  AuthzPathPattern,
  AuthzRole,
  AuthzRule,
  AuthzSelector,
  AuthzSource,
  AuthzStringPattern,
  Metadata,
  Service,
  SourceRef,
} from './mesh-config.js';
import { DOCUMENT_NAME, HEADER_NAME, MAX_LIST, SERVICE_NAME } from './read-common.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const ATTRIBUTES: readonly AuthzAttributeName[] = ['environment', 'team', 'sensitivity'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WORD = /^[A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
const SETTINGS_KEYS = ['selector', 'action', 'rules', 'dryRun', 'external'];
const SETTINGS_FIELDS = 'defaultAction, roles, jwtIssuers';

/**
 * Reads the `spec` of an AuthorizationPolicy strictly (docs/authz.md): selector, action, rules
 * (`from`, `to`, `roles`, `when` with patterns, CIDRs, time windows and CEL-subset expressions
 * parsed here, at the edge), dryRun — or, for the mesh settings document, `defaultAction`,
 * `roles` and `jwtIssuers` (JWKS parsed here too). Every problem is reported at its field path.
 */
export function readAuthorizationPolicy(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
): AuthorizationPolicy | undefined {
  // Nested readers collect into a local list, forwarded to `spec` (whose path they start with).
  const problems: ConfigProblem[] = [];
  const settings = spec.has('defaultAction') || spec.has('roles') || spec.has('jwtIssuers');
  let selector: AuthzSelector | undefined;
  const sel = spec.object('selector');
  if (sel !== undefined) {
    const services = strings(sel, 'services', (v) =>
      SERVICE_NAME.test(v) ? undefined : 'must be a Service name',
    );
    const spiffeIds = patterns(sel, 'spiffeIds', principalPattern);
    if (!sel.has('services') && !sel.has('spiffeIds')) {
      sel.problem('', 'must list services or spiffeIds (omit selector for every workload)');
    }
    selector = { services, spiffeIds };
  }
  const action = spec.oneOf('action', ['ALLOW', 'DENY', 'AUDIT'] as const, 'ALLOW');
  const rules = mapItems(spec, 'rules', problems, (r, i) => readRule(r, i, problems));
  rules.forEach((r, i) => {
    const j = rules.findIndex((q) => q.name === r.name);
    if (j < i) spec.problem(`rules[${i}].name`, `repeats the name of rules[${j}]`);
  });
  const dryRun = spec.boolean('dryRun', false);
  const external = spec.boolean('external', false);
  const defaultAction = spec.has('defaultAction')
    ? spec.oneOf('defaultAction', ['ALLOW', 'DENY'] as const)
    : undefined;
  const roles = mapItems(spec, 'roles', problems, (r) => readRole(r, problems));
  const jwtIssuers = readJwtIssuers(spec, problems);
  if (settings) {
    for (const key of SETTINGS_KEYS) {
      if (spec.has(key)) {
        spec.problem(key, `is not allowed in the mesh settings policy (${SETTINGS_FIELDS})`);
      }
    }
  }
  for (const p of problems) spec.problem(p.path.replace(/^spec\.?/, ''), p.message);
  return {
    kind: 'AuthorizationPolicy',
    source,
    metadata,
    ...(selector !== undefined && { selector }),
    action,
    rules,
    dryRun,
    external,
    ...(defaultAction !== undefined && { defaultAction }),
    roles,
    jwtIssuers,
  };
}

/**
 * The checks of AuthorizationPolicies that span documents: selected Services exist, SPIFFE ID
 * selectors select some Service, roles are defined once and exist where used, at most one
 * document sets `defaultAction`, attribute values in conditions are declared by some Service,
 * each JWT issuer is configured once.
 */
export function checkAuthorizationPolicies(
  policies: readonly AuthorizationPolicy[],
  services: readonly Service[],
  unreadServices: ReadonlySet<string>,
  report: (doc: AuthorizationPolicy, path: string, message: string) => void,
): void {
  const names = new Set(services.map((s) => s.metadata.name));
  const roles = new Map<string, AuthorizationPolicy>();
  const issuers = new Map<string, AuthorizationPolicy>();
  let settings: AuthorizationPolicy | undefined;
  for (const p of policies) {
    p.jwtIssuers.forEach((j, i) => {
      const first = issuers.get(j.issuer);
      if (first !== undefined) {
        report(
          p,
          `spec.jwtIssuers[${i}].issuer`,
          `issuer ${JSON.stringify(j.issuer.slice(0, 128))} is already configured by "${first.metadata.name}"`,
        );
      } else {
        issuers.set(j.issuer, p);
      }
    });
    if (p.defaultAction !== undefined) {
      if (settings !== undefined) {
        report(
          p,
          'spec.defaultAction',
          `is already set by "${settings.metadata.name}" (${settings.source.file}:${settings.source.line})`,
        );
      } else {
        settings = p;
      }
    }
    p.roles.forEach((r, i) => {
      const first = roles.get(r.name);
      if (first !== undefined) {
        report(
          p,
          `spec.roles[${i}].name`,
          `role "${r.name}" is already defined by "${first.metadata.name}"`,
        );
      } else {
        roles.set(r.name, p);
      }
    });
  }
  const declared = (of: AuthzAttributeName, value: string) =>
    services.some((s) => s.attributes[of] === value);
  for (const p of policies) {
    p.selector?.services.forEach((name, i) => {
      if (!names.has(name) && !unreadServices.has(name)) {
        report(p, `spec.selector.services[${i}]`, `no Service named "${name}"`);
      }
    });
    p.selector?.spiffeIds.forEach((pattern, i) => {
      if (!services.some((s) => matches(pattern, s.spiffeId.toString()))) {
        report(p, `spec.selector.spiffeIds[${i}]`, `"${pattern.text}" selects no Service`);
      }
    });
    p.rules.forEach((rule, i) => {
      rule.roles.forEach((name, j) => {
        if (!roles.has(name)) report(p, `spec.rules[${i}].roles[${j}]`, `no role named "${name}"`);
      });
      rule.when.forEach((c, j) => {
        if (c.kind !== 'attribute') return;
        for (const key of ['values', 'notValues'] as const) {
          c[key].forEach((v, k) => {
            if (!declared(c.name, v)) {
              report(
                p,
                `spec.rules[${i}].when[${j}].${key}[${k}]`,
                `no Service declares ${c.name}: ${v}`,
              );
            }
          });
        }
      });
    });
  }
}

function matches(p: AuthzStringPattern, v: string): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return v === p.value;
    case 'prefix':
      return v.startsWith(p.value);
    case 'suffix':
      return v.endsWith(p.value);
  }
}

function readRule(r: ObjectReader, index: number, problems: ConfigProblem[]): AuthzRule {
  let name = `rule-${index}`;
  if (r.has('name')) {
    const n = r.string('name');
    if (n !== undefined && DOCUMENT_NAME.test(n)) name = n;
    else r.problem('name', 'must be lower-case letters, digits, "-" and "." (at most 253)');
  }
  const from = mapItems(r, 'from', problems, (s) => readSource(s));
  const to = mapItems(r, 'to', problems, (o) => readOperation(o));
  const roles = strings(r, 'roles', (v) =>
    DOCUMENT_NAME.test(v) ? undefined : 'must be a role name',
  );
  const when = mapItems(r, 'when', problems, (c) => readCondition(c));
  return { name, from, to, roles, when };
}

function readRole(r: ObjectReader, problems: ConfigProblem[]): AuthzRole | undefined {
  const name = r.string('name');
  if (name !== undefined && !DOCUMENT_NAME.test(name)) {
    r.problem('name', 'must be lower-case letters, digits, "-" and "." (at most 253)');
  }
  const principals = patterns(r, 'principals', principalPattern);
  if (principals.length === 0 && !r.has('principals')) r.problem('principals', 'is required');
  const permissions = mapItems(r, 'permissions', problems, (o) => readOperation(o));
  if (permissions.length === 0 && Array.isArray(r.raw('permissions'))) {
    r.problem('permissions', 'must grant at least one operation');
  } else if (!r.has('permissions')) {
    r.problem('permissions', 'is required');
  }
  return name === undefined ? undefined : { name, principals, permissions };
}

const MAX_JWT_ISSUERS = 100;
const MAX_AUDIENCES = 100;
const MAX_JWT_HEADERS = 10;
const MAX_ISSUER_LENGTH = 1024;
const MAX_URI_LENGTH = 2048;
const MAX_JWKS_LENGTH = 64 * 1024;
const MAX_JWKS_KEYS = 100;
const DEFAULT_JWT_HEADERS: readonly AuthzJwtHeader[] = [
  { name: 'authorization', prefix: 'Bearer ' },
];
// Printable ASCII and spaces, not at either end: issuers, audiences, key IDs.
const CLAIM_TEXT = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/** `jwtIssuers` of the settings document: the issuers of end-user tokens and their keys. */
function readJwtIssuers(spec: ObjectReader, problems: ConfigProblem[]): AuthzJwtIssuer[] {
  const raw = spec.raw('jwtIssuers');
  if (Array.isArray(raw) && raw.length > MAX_JWT_ISSUERS) {
    spec.problem('jwtIssuers', `lists ${raw.length} issuers, more than ${MAX_JWT_ISSUERS}`);
    return [];
  }
  return mapItems(spec, 'jwtIssuers', problems, (r) => readJwtIssuer(r, problems));
}

function readJwtIssuer(r: ObjectReader, problems: ConfigProblem[]): AuthzJwtIssuer | undefined {
  const claimText = (what: string) => (v: string) =>
    v.length <= MAX_ISSUER_LENGTH && CLAIM_TEXT.test(v)
      ? undefined
      : `must be ${what} of printable characters (at most ${MAX_ISSUER_LENGTH}, no spaces at either end)`;
  let issuer: string | undefined = r.string('issuer');
  const issuerProblem =
    issuer === undefined ? undefined : claimText('an exact `iss` value')(issuer);
  if (issuerProblem !== undefined) {
    r.problem('issuer', issuerProblem);
    issuer = undefined;
  }
  const audiences = strings(r, 'audiences', claimText('an audience'));
  if (audiences.length > MAX_AUDIENCES) {
    r.problem('audiences', `lists more than ${MAX_AUDIENCES} audiences`);
  } else if (r.has('audiences') && Array.isArray(r.raw('audiences')) && audiences.length === 0) {
    r.problem('audiences', 'must list at least one audience (omit it not to check `aud`)');
  }
  audiences.forEach((a, i) => {
    if (audiences.indexOf(a) < i) r.problem(`audiences[${i}]`, 'is listed twice');
  });
  const fromHeaders = r.has('fromHeaders')
    ? mapItems(r, 'fromHeaders', problems, (h) => readJwtHeader(h))
    : DEFAULT_JWT_HEADERS;
  if (r.has('fromHeaders') && Array.isArray(r.raw('fromHeaders'))) {
    const n = (r.raw('fromHeaders') as unknown[]).length;
    if (n === 0) r.problem('fromHeaders', 'must list a header (omit it for Authorization: Bearer)');
    if (n > MAX_JWT_HEADERS) r.problem('fromHeaders', `lists more than ${MAX_JWT_HEADERS} headers`);
  }
  fromHeaders.forEach((h, i) => {
    if (fromHeaders.findIndex((g) => g.name === h.name) < i) {
      r.problem(`fromHeaders[${i}].name`, `header "${h.name}" is listed twice`);
    }
  });
  const inline = r.has('jwks');
  const remote = r.has('jwksUri');
  let jwks: AuthzJwtIssuer['jwks'] | undefined;
  if (inline === remote) {
    r.problem('', 'must have exactly one of jwks (a JWKS as JSON text) and jwksUri');
  } else if (inline) {
    const text = r.raw('jwks');
    if (typeof text !== 'string') {
      r.problem('jwks', 'must be a JWKS as JSON text (a string such as \'{"keys": [...]}\')');
    } else {
      try {
        jwks = { kind: 'inline', keys: parseJwksText(text) };
      } catch (err) {
        r.problem('jwks', (err as Error).message);
      }
    }
  } else {
    const uri = r.string('jwksUri');
    if (uri !== undefined) {
      try {
        jwks = { kind: 'remote', uri: checkJwksUri(uri) };
      } catch (err) {
        r.problem('jwksUri', (err as Error).message);
      }
    }
  }
  if (issuer === undefined || jwks === undefined) return undefined;
  return { issuer, audiences, jwks, fromHeaders };
}

function readJwtHeader(r: ObjectReader): AuthzJwtHeader | undefined {
  const name = r.string('name');
  if (name !== undefined && !HEADER_NAME.test(name)) {
    r.problem('name', 'must be a lower-case header name');
    return undefined;
  }
  const prefix = r.string('prefix', '');
  if (prefix !== undefined && !/^[\x20-\x7e]{0,64}$/.test(prefix)) {
    r.problem('prefix', 'must be at most 64 printable characters (such as "Bearer ")');
    return undefined;
  }
  return name === undefined ? undefined : { name, prefix };
}

/** A `jwksUri`: an absolute http(s) URL with a host, written in its canonical form. */
function checkJwksUri(text: string): string {
  if (text.length > MAX_URI_LENGTH) throw new Error(`is longer than ${MAX_URI_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(
      'must be an absolute http or https URL such as https://tokens.example.org/jwks',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('must be an http or https URL');
  }
  if (url.hostname === '') throw new Error('must name a host');
  if (url.username !== '' || url.password !== '') throw new Error('must not hold user info');
  if (url.hash !== '' || text.includes('#')) throw new Error('must not hold a fragment');
  if (url.href !== text) {
    throw new Error(
      `must be written in its canonical form ${JSON.stringify(url.href.slice(0, 256))}`,
    );
  }
  return text;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const EC_COORDINATE_LENGTH: Readonly<Record<string, number>> = { 'P-256': 43, 'P-384': 64 };
const EC_ALGORITHM: Readonly<Record<string, AuthzJwsAlgorithm>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
};
const RSA_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Parses an inline JWKS (RFC 7517 §5): at most MAX_JWKS_KEYS public keys, each EC (P-256,
 * P-384), RSA (2048 to 16384 bits) or OKP (Ed25519) with `use` absent or `sig`, an `alg` that
 * fits it, and a key ID used once. Private members are refused; messages never quote key values.
 */
function parseJwksText(text: string): AuthzJwk[] {
  if (text.length > MAX_JWKS_LENGTH) {
    throw new Error(`is longer than ${MAX_JWKS_LENGTH} characters`);
  }
  let doc;
  try {
    doc = parseJson(text, { maxLength: MAX_JWKS_LENGTH, maxDepth: 8 });
  } catch (err) {
    throw new Error(`is not valid JSON: ${(err as Error).message.replace(/^invalid JSON /, '')}`);
  }
  const keys = isJsonObject(doc) ? doc.get('keys') : undefined;
  if (!isJsonArray(keys)) throw new Error('must be a JSON object with a "keys" list (a JWKS)');
  if (keys.length === 0) throw new Error('must hold at least one key');
  if (keys.length > MAX_JWKS_KEYS) throw new Error(`holds more than ${MAX_JWKS_KEYS} keys`);
  const out: AuthzJwk[] = [];
  keys.forEach((key, i) => {
    const fail = (why: string): never => {
      throw new Error(`keys[${i}]: ${why}`);
    };
    if (!isJsonObject(key)) return fail('is not a JSON object');
    const secret = PRIVATE_JWK_MEMBERS.find((m) => key.has(m));
    if (secret !== undefined) {
      fail(`holds the private member "${secret}": a JWKS in the repository holds public keys only`);
    }
    const str = (m: string): string | undefined => {
      const v = key.get(m);
      if (v !== undefined && typeof v !== 'string') fail(`"${m}" must be a string`);
      return v as string | undefined;
    };
    const b64 = (m: string, length?: number): string => {
      const v = str(m);
      if (v === undefined) return fail(`"${m}" is required`);
      if (!BASE64URL.test(v) || (length !== undefined && v.length !== length)) {
        fail(
          `"${m}" is not ${length === undefined ? 'base64url' : `${length} base64url characters`}`,
        );
      }
      return v;
    };
    const kid = str('kid');
    if (kid !== undefined && !(kid.length <= 256 && CLAIM_TEXT.test(kid))) {
      fail('"kid" must be at most 256 printable characters');
    }
    if (kid !== undefined && out.some((k) => k.kid === kid)) {
      fail(`repeats the key ID ${JSON.stringify(kid)}`);
    }
    const use = str('use');
    if (use !== undefined && use !== 'sig') fail('"use" must be "sig" (or absent)');
    const alg = str('alg');
    const kty = str('kty');
    let jwk: AuthzJwk;
    let algs: readonly string[];
    if (kty === 'EC') {
      const crv = str('crv') ?? '';
      const length = EC_COORDINATE_LENGTH[crv];
      if (length === undefined) return fail('"crv" of an EC key must be P-256 or P-384');
      jwk = { kty, crv: crv as 'P-256' | 'P-384', x: b64('x', length), y: b64('y', length) };
      algs = [EC_ALGORITHM[crv] as string];
    } else if (kty === 'RSA') {
      jwk = { kty, n: b64('n'), e: b64('e') };
      algs = RSA_ALGORITHMS;
    } else if (kty === 'OKP') {
      if (str('crv') !== 'Ed25519') return fail('"crv" of an OKP key must be Ed25519');
      jwk = { kty, crv: 'Ed25519', x: b64('x', 43) };
      algs = ['EdDSA'];
    } else {
      return fail('"kty" must be EC, RSA or OKP (a public signing key)');
    }
    if (alg !== undefined && !algs.includes(alg)) {
      fail(`"alg" must be ${algs.join(', ')} for this key`);
    }
    let bits: number | undefined;
    try {
      bits = createPublicKey({ key: { ...jwk }, format: 'jwk' }).asymmetricKeyDetails
        ?.modulusLength;
    } catch {
      fail(`is not a valid ${kty} public key`);
    }
    if (kty === 'RSA' && !(bits !== undefined && bits >= 2048 && bits <= 16384)) {
      fail('an RSA key must have 2048 to 16384 bits');
    }
    out.push({
      ...(kid !== undefined && { kid }),
      ...(alg !== undefined && { alg: alg as AuthzJwsAlgorithm }),
      ...jwk,
    });
    return undefined;
  });
  return out;
}

function readSource(r: ObjectReader): AuthzSource {
  const td = (v: string) => {
    try {
      parseTrustDomain(v);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    principals: patterns(r, 'principals', principalPattern),
    notPrincipals: patterns(r, 'notPrincipals', principalPattern),
    trustDomains: strings(r, 'trustDomains', td),
    notTrustDomains: strings(r, 'notTrustDomains', td),
  };
}

function readOperation(r: ObjectReader): AuthzOperation {
  const method = (v: string) =>
    METHODS.includes(v) ? undefined : `must be one of ${METHODS.join(', ')}`;
  return {
    hosts: patterns(r, 'hosts', hostPattern),
    notHosts: patterns(r, 'notHosts', hostPattern),
    methods: strings(r, 'methods', method),
    notMethods: strings(r, 'notMethods', method),
    paths: patterns(r, 'paths', pathPattern),
    notPaths: patterns(r, 'notPaths', pathPattern),
    ports: ports(r, 'ports'),
    notPorts: ports(r, 'notPorts'),
    ignoreCase: r.boolean('ignoreCase', false),
  };
}

const KEY_FORMS =
  'request.headers[NAME], request.auth.claims[NAME]…, source.ip, ' +
  'source.attributes.NAME or destination.attributes.NAME';

function readCondition(r: ObjectReader): AuthzCondition | undefined {
  const forms = ['key', 'expression', 'time'].filter((k) => r.has(k));
  if (forms.length !== 1) {
    r.problem('', 'must have exactly one of key (with values/notValues), expression, time');
    for (const k of ['values', 'notValues']) r.has(k);
    return undefined;
  }
  if (forms[0] === 'expression') {
    const text = r.string('expression');
    if (text === undefined) return undefined;
    try {
      return { kind: 'expression', text, expression: parseExpression(text) };
    } catch (err) {
      r.problem('expression', (err as Error).message);
      return undefined;
    }
  }
  if (forms[0] === 'time') return readTime(r.object('time'));
  const key = r.string('key');
  if (!r.has('values') && !r.has('notValues')) {
    r.problem('', 'needs values or notValues');
  }
  if (key === undefined) return undefined;
  const header = /^request\.headers\[([^\]]+)\]$/.exec(key);
  if (header !== null) {
    const name = header[1] ?? '';
    if (!HEADER_NAME.test(name)) r.problem('key', `"${name}" is not a lower-case header name`);
    return {
      kind: 'header',
      name,
      values: patterns(r, 'values', valuePattern),
      notValues: patterns(r, 'notValues', valuePattern),
    };
  }
  const claim = /^request\.auth\.claims((?:\[[^\][]+\])+)$/.exec(key);
  if (claim !== null) {
    return {
      kind: 'claim',
      path: [...(claim[1] ?? '').matchAll(/\[([^\]]+)\]/g)].map((m) => m[1] ?? ''),
      values: patterns(r, 'values', valuePattern),
      notValues: patterns(r, 'notValues', valuePattern),
    };
  }
  if (key === 'source.ip') {
    return {
      kind: 'sourceIp',
      values: patterns(r, 'values', parseCidr),
      notValues: patterns(r, 'notValues', parseCidr),
    };
  }
  const attr = /^(source|destination)\.attributes\.([A-Za-z]+)$/.exec(key);
  if (attr !== null) {
    const name = attr[2] as AuthzAttributeName;
    if (!ATTRIBUTES.includes(name)) {
      r.problem('key', `unknown attribute "${name}" (known: ${ATTRIBUTES.join(', ')})`);
      return undefined;
    }
    const word = (v: string) => (WORD.test(v) ? undefined : 'must be an attribute value (a word)');
    return {
      kind: 'attribute',
      of: attr[1] as 'source' | 'destination',
      name,
      values: strings(r, 'values', word),
      notValues: strings(r, 'notValues', word),
    };
  }
  r.problem('key', `unknown key "${key.slice(0, 64)}" (supported: ${KEY_FORMS})`);
  return undefined;
}

function readTime(r: ObjectReader | undefined): AuthzCondition | undefined {
  if (r === undefined) return undefined;
  const days = strings(r, 'days', (v) =>
    DAYS.includes(v) ? undefined : `must be one of ${DAYS.join(', ')}`,
  ).map((d) => DAYS.indexOf(d));
  if (!r.has('days')) r.problem('days', 'is required');
  const minutes = (key: string) => {
    const v = r.string(key);
    const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(v ?? '');
    const n = m === null ? Number.NaN : Number(m[1]) * 60 + Number(m[2]);
    if (v !== undefined && !(n <= 24 * 60))
      r.problem(key, 'must be a UTC time HH:MM (00:00-24:00)');
    return n;
  };
  const start = minutes('start');
  const end = minutes('end');
  if (start === end) r.problem('end', 'must differ from start');
  if (Number.isNaN(start) || Number.isNaN(end)) return undefined;
  return { kind: 'time', days, start, end: end % (24 * 60) };
}

/** Reads a list of maps, each with its indexed path, reporting unknown keys of each. */
function mapItems<T>(
  r: ObjectReader,
  key: string,
  problems: ConfigProblem[],
  read: (item: ObjectReader, index: number) => T | undefined,
): T[] {
  const raw = r.raw(key);
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > MAX_LIST) {
    r.problem(key, `must be a list of at most ${MAX_LIST} maps`);
    return [];
  }
  const out: T[] = [];
  raw.forEach((value: unknown, i) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      r.problem(`${key}[${i}]`, 'must be a map');
      return;
    }
    const item = new ObjectReader(
      value,
      `${r.path === '' ? '' : `${r.path}.`}${key}[${i}]`,
      problems,
    );
    const result = read(item, i);
    item.reportUnknown();
    if (result !== undefined) out.push(result);
  });
  return out;
}

/** A list of strings, each checked; problems at their index. */
function strings(r: ObjectReader, key: string, check: (v: string) => string | undefined): string[] {
  return patterns(r, key, (v) => {
    const problem = check(v);
    if (problem !== undefined) throw new Error(problem);
    return v;
  });
}

/** A list of strings, each parsed by `parse` (which throws a message); problems at their index. */
function patterns<T>(r: ObjectReader, key: string, parse: (v: string) => T): T[] {
  const raw = r.raw(key);
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > MAX_LIST) {
    r.problem(key, `must be a list of at most ${MAX_LIST} strings`);
    return [];
  }
  const out: T[] = [];
  raw.forEach((v, i) => {
    if (typeof v !== 'string') {
      r.problem(`${key}[${i}]`, 'must be a string');
      return;
    }
    try {
      out.push(parse(v));
    } catch (err) {
      r.problem(`${key}[${i}]`, (err as Error).message);
    }
  });
  return out;
}

function ports(r: ObjectReader, key: string): number[] {
  const raw = r.raw(key);
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > MAX_LIST) {
    r.problem(key, 'must be a list of ports');
    return [];
  }
  return raw.filter((v, i) => {
    const ok = typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
    if (!ok) r.problem(`${key}[${i}]`, 'must be a port (1-65535)');
    return ok;
  }) as number[];
}

function wildcards(text: string): number {
  return text.split('*').length - 1;
}

/** A principal pattern: `*`, an exact SPIFFE ID, a prefix ending in "/*" or a suffix such as "*" + "/path". */
function principalPattern(text: string): AuthzStringPattern {
  if (text === '*') return { kind: 'any', text };
  if (wildcards(text) > 1 || /^[^*].*\*.+$/.test(text)) {
    throw new Error('may hold one "*", at its start or end');
  }
  if (text.startsWith('*')) {
    const value = text.slice(1);
    if (!value.startsWith('/') || value.length < 2) {
      throw new Error('a suffix pattern is "*/path" (the end of a SPIFFE ID path)');
    }
    return { kind: 'suffix', value, text };
  }
  if (text.endsWith('*')) {
    const value = text.slice(0, -1);
    const m = /^spiffe:\/\/([^/]+)\/(.*)$/.exec(value);
    if (m === null || !(m[2] === '' || m[2]?.endsWith('/'))) {
      throw new Error('a prefix pattern is "spiffe://trust.domain/path/*"');
    }
    parseTrustDomain(m[1] ?? '');
    return { kind: 'prefix', value, text };
  }
  return { kind: 'exact', value: parseSpiffeId(text).toString(), text };
}

/** A header or claim value: `*` (present), exact, `prefix*` or `*suffix`. */
function valuePattern(text: string): AuthzStringPattern {
  if (text === '*') return { kind: 'any', text };
  if (wildcards(text) > 1) throw new Error('may hold one "*", at its start or end');
  if (text.startsWith('*')) return { kind: 'suffix', value: text.slice(1), text };
  if (text.endsWith('*')) return { kind: 'prefix', value: text.slice(0, -1), text };
  if (text.length > 4096) throw new Error('is longer than 4096 characters');
  return { kind: 'exact', value: text, text };
}

const PATH_LITERAL = /^[A-Za-z0-9\-._~!$&'()+,=:@/]*$/;

/** A path pattern: `*`, exact, `/prefix/*`, `*suffix`, or a template with `{*}`/`{**}`. */
function pathPattern(text: string): AuthzPathPattern {
  if (text === '*') return { kind: 'any', text };
  const literal = (s: string) => {
    if (!PATH_LITERAL.test(s)) {
      throw new Error(
        "is not a normalized path: it may hold letters, digits and -._~!$&'()+,=:@/ only " +
          '(no %-escapes, ";", "?", "#" or "\\": requests with them never reach a policy)',
      );
    }
    if (/\/\/|\/\.\.?(\/|$)/.test(s)) {
      throw new Error('is not a normalized path ("//", "/./" and "/../" are normalized away)');
    }
  };
  if (text.includes('{')) {
    if (!text.startsWith('/')) throw new Error('a template starts with "/"');
    const segments = text
      .split('/')
      .slice(1)
      .map((s) => {
        if (s === '{*}') return { wildcard: '*' as const };
        if (s === '{**}') return { wildcard: '**' as const };
        if (/[{}*]/.test(s)) throw new Error('"{*}" and "{**}" must each be a whole segment');
        literal(`/${s}`);
        return s;
      });
    return { kind: 'template', segments, text };
  }
  if (wildcards(text) > 1) throw new Error('may hold one "*", at its start or end');
  if (text.startsWith('*')) {
    literal(text.slice(1));
    return { kind: 'suffix', value: text.slice(1), text };
  }
  if (!text.startsWith('/')) throw new Error('must start with "/" (or be "*", "*suffix")');
  if (text.endsWith('*')) {
    literal(text.slice(0, -1));
    return { kind: 'prefix', value: text.slice(0, -1), text };
  }
  if (text.includes('*')) throw new Error('"*" may only start or end a path (or use {*}, {**})');
  literal(text);
  return { kind: 'exact', value: text, text };
}

/** A host pattern: name (`*`, exact, `*.suffix`, `prefix.*`) and an optional non-default port. */
function hostPattern(text: string): AuthzHostPattern {
  if (text !== text.toLowerCase())
    throw new Error('must be lower-case (hosts are matched ignoring case)');
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text);
  const name = m?.[1] ?? '';
  const portText = m?.[2];
  if (!/^(\*|\*?[a-z0-9_.-]+\*?)$/.test(name) || wildcards(name) > 1) {
    throw new Error('must be a host name, "*", "*.suffix" or "prefix.*", with an optional :port');
  }
  if (name.endsWith('.')) throw new Error('must not end with "." (a trailing dot is dropped)');
  const pattern = valuePattern(name);
  if (portText === undefined) return { name: pattern, text };
  const port = Number(portText);
  if (!(port >= 1 && port <= 65535)) throw new Error('has a port that is not 1-65535');
  if (port === 80 || port === 443) {
    throw new Error(`must not name the default port ${port} (it is dropped before matching)`);
  }
  return { name: pattern, port, text };
}

/** An IPv4/IPv6 address or CIDR block. */
function parseCidr(text: string): AuthzCidr {
  const [addr = '', len] = text.split('/');
  const bytes = ipBytes(addr);
  if (bytes === undefined)
    throw new Error('must be an IP address or CIDR block such as 10.0.0.0/8');
  const max = bytes.length * 8;
  const prefixLength = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : Number.NaN;
  if (!(prefixLength >= 0 && prefixLength <= max)) {
    throw new Error(`has a prefix length that is not 0-${max}`);
  }
  return { bytes, prefixLength, text };
}

function ipBytes(text: string): number[] | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const b = v4.slice(1).map(Number);
    return b.every((x) => x <= 255) ? b : undefined;
  }
  if (!/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const fill = 8 - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...right];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

// The CEL subset (docs/authz.md): literals (strings, integers, true, false), lists, attributes,
// `!`, `&&`, `||`, `==`, `!=`, `in`, `.startsWith()`, `.endsWith()` and parentheses.

type Token =
  | { readonly t: 'str'; readonly v: string; readonly at: number }
  | { readonly t: 'num'; readonly v: number; readonly at: number }
  | { readonly t: 'id'; readonly v: string; readonly at: number }
  | { readonly t: 'op'; readonly v: string; readonly at: number }
  | { readonly t: 'end'; readonly at: number };

const MAX_EXPRESSION = 1024;
const MAX_DEPTH = 32;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const start = i++;
      let v = '';
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') {
          const e = text[i + 1];
          if (e !== '\\' && e !== '"' && e !== "'") {
            throw new Error(`at column ${i + 1}: only \\\\, \\" and \\' escapes are supported`);
          }
          v += e;
          i += 2;
        } else {
          v += text[i];
          i++;
        }
      }
      if (i >= text.length) throw new Error(`at column ${start + 1}: unterminated string`);
      i++;
      out.push({ t: 'str', v, at: start });
    } else if (/\d/.test(c)) {
      const m = /^\d{1,9}/.exec(text.slice(i)) as RegExpExecArray;
      if (/^\d/.test(text.slice(i + m[0].length))) {
        throw new Error(`at column ${i + 1}: the number is too large`);
      }
      out.push({ t: 'num', v: Number(m[0]), at: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      out.push({ t: 'id', v: m[0], at: i });
      i += m[0].length;
    } else {
      const two = text.slice(i, i + 2);
      if (['==', '!=', '&&', '||'].includes(two)) {
        out.push({ t: 'op', v: two, at: i });
        i += 2;
      } else if ('()[],.!'.includes(c)) {
        out.push({ t: 'op', v: c, at: i });
        i++;
      } else {
        throw new Error(`at column ${i + 1}: unexpected "${c}"`);
      }
    }
  }
  out.push({ t: 'end', at: text.length });
  return out;
}

/** Parses and checks an expression of the CEL subset; throws with the column of the problem. */
function parseExpression(text: string): AuthzExpression {
  if (text.length > MAX_EXPRESSION) throw new Error(`is longer than ${MAX_EXPRESSION} characters`);
  const tokens = tokenize(text);
  let pos = 0;
  let depth = 0;
  const peek = () => tokens[pos] as Token;
  const col = (t: Token) => `at column ${t.at + 1}`;
  const isOp = (v: string) => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };
  const expect = (v: string) => {
    const t = peek();
    if (!(t.t === 'op' && t.v === v)) throw new Error(`${col(t)}: expected "${v}"`);
    pos++;
  };
  const nest = <T>(f: () => T): T => {
    if (++depth > MAX_DEPTH) throw new Error(`is nested more than ${MAX_DEPTH} levels deep`);
    const v = f();
    depth--;
    return v;
  };
  const orExpr = (): AuthzExpression =>
    nest(() => {
      let left = andExpr();
      while (isOp('||')) {
        pos++;
        left = { op: 'or', left, right: andExpr() };
      }
      return left;
    });
  const andExpr = (): AuthzExpression => {
    let left = relation();
    while (isOp('&&')) {
      pos++;
      left = { op: 'and', left, right: relation() };
    }
    return left;
  };
  const relation = (): AuthzExpression => {
    const left = unary();
    const t = peek();
    if (t.t === 'op' && (t.v === '==' || t.v === '!=')) {
      pos++;
      return { op: t.v, left, right: unary() };
    }
    if (t.t === 'id' && t.v === 'in') {
      pos++;
      const right = unary();
      if (right.op !== 'list' && !(right.op === 'attribute' && right.path[1] === 'auth')) {
        throw new Error(`${col(t)}: "in" needs a list (or a claim) on its right`);
      }
      return { op: 'in', left, right };
    }
    return left;
  };
  const unary = (): AuthzExpression => {
    if (isOp('!')) {
      pos++;
      return nest(() => ({ op: 'not', arg: unary() }));
    }
    return postfix();
  };
  const postfix = (): AuthzExpression => {
    const start = peek();
    let e = primary();
    for (;;) {
      if (isOp('.')) {
        pos++;
        const name = peek();
        if (name.t !== 'id') throw new Error(`${col(name)}: expected a field or method name`);
        pos++;
        if (isOp('(')) {
          if (name.v !== 'startsWith' && name.v !== 'endsWith') {
            throw new Error(
              `${col(name)}: unsupported function "${name.v}" (startsWith, endsWith)`,
            );
          }
          pos++;
          const arg = orExpr();
          expect(')');
          e = { op: name.v, target: checked(e, start), arg };
        } else if (e.op === 'attribute') {
          e = { op: 'attribute', path: [...e.path, name.v] };
        } else {
          throw new Error(`${col(name)}: only attributes have fields`);
        }
      } else if (isOp('[')) {
        const open = peek();
        pos++;
        const key = peek();
        if (key.t !== 'str') throw new Error(`${col(key)}: a map key must be a string literal`);
        pos++;
        expect(']');
        if (e.op !== 'attribute') throw new Error(`${col(open)}: only attributes can be indexed`);
        e = { op: 'attribute', path: [...e.path, key.v] };
      } else {
        return checked(e, start);
      }
    }
  };
  const primary = (): AuthzExpression => {
    const t = peek();
    pos++;
    switch (t.t) {
      case 'str':
      case 'num':
        return { op: 'literal', value: t.v };
      case 'id':
        if (t.v === 'true' || t.v === 'false') return { op: 'literal', value: t.v === 'true' };
        if (t.v === 'source' || t.v === 'destination' || t.v === 'request') {
          return { op: 'attribute', path: [t.v] };
        }
        throw new Error(`${col(t)}: unknown name "${t.v}" (source, destination, request)`);
      case 'op':
        if (t.v === '(') {
          const e = orExpr();
          expect(')');
          return e;
        }
        if (t.v === '[') {
          const items: AuthzExpression[] = [];
          while (!isOp(']')) {
            if (items.length > 0) expect(',');
            items.push(orExpr());
            if (items.length > MAX_LIST) throw new Error(`${col(t)}: the list is too long`);
          }
          pos++;
          return { op: 'list', items };
        }
        throw new Error(`${col(t)}: unexpected "${t.v}"`);
      case 'end':
        throw new Error(`${col(t)}: the expression ends too early`);
    }
  };
  const e = orExpr();
  const rest = peek();
  if (rest.t !== 'end') throw new Error(`${col(rest)}: unexpected text after the expression`);
  return e;
}

/** Checks that an attribute path names a supported attribute (docs/authz.md). */
function checked(e: AuthzExpression, at: Token): AuthzExpression {
  if (e.op !== 'attribute') return e;
  const p = e.path.join('.');
  const [root, field, key, ...rest] = e.path;
  const where = `at column ${at.at + 1}`;
  const ok =
    (root === 'source' &&
      ['principal', 'trustDomain', 'address', 'service'].includes(field ?? '') &&
      key === undefined) ||
    (root === 'destination' &&
      ['principal', 'service', 'port'].includes(field ?? '') &&
      key === undefined) ||
    ((root === 'source' || root === 'destination') &&
      field === 'attributes' &&
      ATTRIBUTES.includes(key as AuthzAttributeName) &&
      rest.length === 0) ||
    (root === 'request' && ['method', 'path', 'host'].includes(field ?? '') && key === undefined) ||
    (root === 'request' &&
      field === 'headers' &&
      key !== undefined &&
      HEADER_NAME.test(key) &&
      rest.length === 0) ||
    (root === 'request' && field === 'auth' && key === 'claims' && rest.length > 0);
  if (!ok) throw new Error(`${where}: unknown attribute "${p}"`);
  return e;
}
