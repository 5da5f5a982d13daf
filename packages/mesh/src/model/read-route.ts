import { jwtSvidSecretName, oauthTokenSecretName } from '@parley/api';
import type { ConfigProblem, ObjectReader } from '@parley/core';
import type {
  FaultInjection,
  HeaderMutation,
  Metadata,
  MirrorPolicy,
  RetryPolicy,
  Route,
  RouteEgress,
  RouteMatch,
  RouteRule,
  SourceRef,
  StringMatch,
} from './mesh-config.js';
import {
  HEADER_NAME,
  SERVICE_NAME,
  patterned,
  percentage,
  readItems,
  readStrings,
  requiredInteger,
} from './read-common.js';
import { re2RegexProblem } from './re2-regex.js';

/** HTTP methods a rule can match. */
export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

/** Envoy's `retry_on` conditions (HTTP and gRPC). */
export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

const RULE_NAME = /^[a-z0-9]([-.a-z0-9]{0,61}[a-z0-9])?$/;
const PATH = /^\/[\x21-\x7e]{0,1023}$/;
const HOST = /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?(:\d{1,5})?$/;
const MAX_HEADER_VALUE = 4096;
const MAX_MATCH_VALUE = 1024;

/** Reads a `{exact|prefix|regex}` matcher; `extra` names further allowed members (`present`). */
function stringMatch(
  r: ObjectReader,
  check: (kind: 'exact' | 'prefix', v: string) => string | undefined,
  extra?: 'present',
): StringMatch | { present: boolean } | undefined {
  const kinds = ['exact', 'prefix', 'regex', ...(extra === undefined ? [] : [extra])];
  const set = kinds.filter((k) => r.has(k));
  if (set.length !== 1) {
    r.problem('', `must have exactly one of ${kinds.join(', ')}`);
    return undefined;
  }
  const kind = set[0];
  if (kind === 'present') return { present: r.boolean('present') };
  const v = r.string(kind ?? '');
  if (v === undefined) return undefined;
  if (kind === 'regex') {
    const problem = re2RegexProblem(v);
    if (problem !== undefined) {
      r.problem('regex', problem);
      return undefined;
    }
    return { regex: v };
  }
  const k = kind as 'exact' | 'prefix';
  const problem = v.length > MAX_MATCH_VALUE ? `is longer than ${MAX_MATCH_VALUE}` : check(k, v);
  if (problem !== undefined) {
    r.problem(k, problem);
    return undefined;
  }
  return k === 'exact' ? { exact: v } : { prefix: v };
}

function readMatch(m: ObjectReader | undefined, problems: ConfigProblem[]): RouteMatch {
  if (m === undefined) return { headers: [] };
  const pathReader = m.object('path');
  const path =
    pathReader === undefined
      ? undefined
      : (stringMatch(pathReader, (_k, v) =>
          PATH.test(v) ? undefined : 'must start with "/" and contain no spaces or controls',
        ) as StringMatch | undefined);
  const headers = readItems(m, 'headers', problems, (h) => {
    const name = patterned(h, 'name', HEADER_NAME, 'a lower-case HTTP header name');
    const match = stringMatch(
      h,
      (_k, v) => (/^[\x20-\x7e]*$/.test(v) ? undefined : 'must be printable ASCII'),
      'present',
    );
    return name === undefined || match === undefined ? undefined : { name, ...match };
  });
  const method = m.has('method') ? m.oneOf('method', HTTP_METHODS) : undefined;
  return {
    ...(path !== undefined && { path }),
    headers: headers,
    ...(method !== undefined && { method }),
  };
}

function readMutation(r: ObjectReader | undefined, problems: ConfigProblem[]): HeaderMutation {
  if (r === undefined) return { add: [], remove: [] };
  const add = readItems(r, 'add', problems, (a) => {
    const name = patterned(a, 'name', HEADER_NAME, 'a lower-case HTTP header name');
    const value = a.string('value');
    if (value !== undefined && (value.length > MAX_HEADER_VALUE || !/^[\x20-\x7e]*$/.test(value))) {
      a.problem('value', `must be printable ASCII of at most ${MAX_HEADER_VALUE} characters`);
      return undefined;
    }
    const append = a.boolean('append', false);
    return name === undefined || value === undefined ? undefined : { name, value, append };
  });
  const remove = readStrings(r, 'remove', (v) =>
    !HEADER_NAME.test(v)
      ? 'must be a lower-case HTTP header name'
      : v === 'host'
        ? 'cannot remove the host header'
        : undefined,
  );
  return { add, remove };
}

function readRetries(r: ObjectReader | undefined): RetryPolicy | undefined {
  if (r === undefined) return undefined;
  const attempts = requiredInteger(r, 'attempts', 1, 10);
  const retryOn = r.has('retryOn')
    ? readStrings(r, 'retryOn', (v) =>
        (RETRY_ON as readonly string[]).includes(v)
          ? undefined
          : `must be one of ${RETRY_ON.join(', ')}`,
      )
    : ['5xx', 'connect-failure', 'refused-stream', 'reset'];
  const perTryTimeout = r.has('perTryTimeout') ? r.duration('perTryTimeout') : undefined;
  if (attempts === undefined) return undefined;
  return { attempts, retryOn, ...(perTryTimeout !== undefined && { perTryTimeout }) };
}

function readFault(r: ObjectReader | undefined): FaultInjection | undefined {
  if (r === undefined) return undefined;
  const d = r.object('delay');
  const a = r.object('abort');
  if (d === undefined && a === undefined) r.problem('', 'needs a delay or an abort');
  let delay: FaultInjection['delay'];
  if (d !== undefined) {
    const fixedDelay = d.duration('fixedDelay');
    const pct = percentage(d, 'percentage');
    if (fixedDelay !== undefined && pct !== undefined) delay = { fixedDelay, percentage: pct };
  }
  let abort: FaultInjection['abort'];
  if (a !== undefined) {
    const httpStatus = requiredInteger(a, 'httpStatus', 200, 599);
    const pct = percentage(a, 'percentage');
    if (httpStatus !== undefined && pct !== undefined) abort = { httpStatus, percentage: pct };
  }
  return { ...(delay !== undefined && { delay }), ...(abort !== undefined && { abort }) };
}

function readMirror(r: ObjectReader | undefined): MirrorPolicy | undefined {
  if (r === undefined) return undefined;
  const service = patterned(r, 'service', SERVICE_NAME, 'a service name');
  const pct = percentage(r, 'percentage', 100);
  return service === undefined || pct === undefined ? undefined : { service, percentage: pct };
}

function readRule(rule: ObjectReader, index: number, problems: ConfigProblem[]): RouteRule {
  const name = rule.has('name')
    ? (patterned(rule, 'name', RULE_NAME, 'lower-case letters, digits, "-" and "."') ??
      `rule-${index}`)
    : `rule-${index}`;
  const match = readMatch(rule.object('match'), problems);
  if (!rule.has('destinations')) rule.problem('destinations', 'is required');
  const destinations = readItems(rule, 'destinations', problems, (d) => {
    const service = patterned(d, 'service', SERVICE_NAME, 'a service name');
    const weight = d.has('weight') ? requiredInteger(d, 'weight', 0, 100) : undefined;
    return service === undefined ? undefined : { service, weight: weight ?? -1 };
  });
  const timeout = rule.has('timeout') ? rule.duration('timeout') : undefined;
  const retries = readRetries(rule.object('retries'));
  const fault = readFault(rule.object('fault'));
  const mirror = readMirror(rule.object('mirror'));
  const requestHeaders = readMutation(rule.object('requestHeaders'), problems);
  const responseHeaders = readMutation(rule.object('responseHeaders'), problems);
  const rw = rule.object('rewrite');
  let rewrite: RouteRule['rewrite'];
  if (rw !== undefined) {
    const prefix = rw.optionalString('prefix');
    const host = rw.optionalString('host');
    if (prefix !== undefined && !PATH.test(prefix)) {
      rw.problem('prefix', 'must start with "/" and contain no spaces or controls');
    }
    if (host !== undefined && !HOST.test(host)) rw.problem('host', 'must be a host name');
    if (prefix !== undefined && match.path !== undefined && 'regex' in match.path) {
      rw.problem('prefix', 'needs a path match by exact or prefix, not regex');
    }
    rewrite = {
      ...(prefix !== undefined && { prefix }),
      ...(host !== undefined && { host }),
    };
  }
  return {
    name,
    match,
    destinations,
    ...(timeout !== undefined && { timeout }),
    ...(retries !== undefined && { retries }),
    ...(fault !== undefined && { fault }),
    ...(mirror !== undefined && { mirror }),
    requestHeaders,
    responseHeaders,
    ...(rewrite !== undefined && { rewrite }),
  };
}

// An audience is an identifier (often a URI or SPIFFE ID): printable ASCII, no spaces, no "?".
const AUDIENCE = /^[\x21-\x3e\x40-\x7e]{1,512}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/; // RFC 6749 §3.3 scope-token

function readEgress(r: ObjectReader | undefined): RouteEgress | undefined {
  if (r === undefined) return undefined;
  const t = r.object('token');
  if (t === undefined) {
    r.problem('token', 'is required');
    return undefined;
  }
  const audience = t.string('audience');
  const source = t.oneOf('source', ['jwt-svid', 'oauth'] as const, 'jwt-svid');
  const scopes = t.has('scopes')
    ? readStrings(t, 'scopes', (v) =>
        SCOPE.test(v) ? undefined : 'must be an RFC 6749 scope token',
      )
    : [];
  if (source !== 'oauth' && scopes.length > 0) t.problem('scopes', 'only applies to source: oauth');
  if (audience !== undefined && !AUDIENCE.test(audience)) {
    t.problem('audience', 'must be 1-512 printable ASCII characters without spaces or "?"');
    return undefined;
  }
  return audience === undefined ? undefined : { token: { audience, source, scopes } };
}

/** The SDS secret a sidecar sends for a route's token egress (named as the agent serves it). */
export function egressSecretName(egress: RouteEgress): string {
  const { audience, source, scopes } = egress.token;
  return source === 'oauth' ? oauthTokenSecretName(audience, scopes) : jwtSvidSecretName(audience);
}

/** Reads the `spec` of a Route; weights are settled by the semantic checks. */
export function readRoute(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
  problems: ConfigProblem[],
): Route | undefined {
  const host = patterned(spec, 'host', SERVICE_NAME, 'a service name');
  if (!spec.has('rules')) spec.problem('rules', 'is required');
  const rules = readItems(spec, 'rules', problems, (r, i) => readRule(r, i, problems));
  const egress = readEgress(spec.object('egress'));
  if (host === undefined) return undefined;
  return { kind: 'Route', source, metadata, host, rules, ...(egress !== undefined && { egress }) };
}
