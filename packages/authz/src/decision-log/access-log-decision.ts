import { createHash } from 'node:crypto';
import type { DecisionRecord } from '../model/decision-record.js';
import { StructError, structToJson } from '../ext-authz/proto-struct.js';

/** The Envoy filters whose dynamic metadata tells who decided. */
export const RBAC_METADATA = 'envoy.filters.http.rbac';
export const EXT_AUTHZ_METADATA = 'envoy.filters.http.ext_authz';
export const JWT_AUTHN_METADATA = 'envoy.filters.http.jwt_authn';

const MAX_TEXT = 4096;
const METADATA_LIMITS = { maxDepth: 32, maxNodes: 10_000, maxString: MAX_TEXT };
const RBAC_DENIED = /^rbac_access_denied_matched_policy\[(.*)\]$/;

/** What the decision log knows about the workload whose sidecar sent an access log entry. */
export interface AccessLogContext {
  /** The SPIFFE ID of the sidecar (its verified certificate): the destination. */
  readonly destination: string;
  readonly service?: string;
  /**
   * The Service's ports: a request to the sidecar's inbound listener counts as one to the first
   * (as the ext_authz adapter reads it), unless the listener port is one of them.
   */
  readonly ports?: readonly number[];
  /** The config commit the proxy last acknowledged, when known. */
  readonly version?: string;
  /** The header names policies refer to: the only headers a record keeps. */
  readonly headerNames: readonly string[];
  /** The share of allowed requests to record, 0…1 (chosen by request ID, so deterministic). */
  readonly sampleAllows: number;
  readonly now: number;
}

const text = (v: unknown): string =>
  typeof v === 'string' ? (v.length > MAX_TEXT ? v.slice(0, MAX_TEXT) : v) : '';
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

/** True for the `sample` share of request IDs (a hash, so every replica picks the same ones). */
export function sampled(requestId: string, sample: number): boolean {
  if (sample >= 1) return true;
  if (sample <= 0) return false;
  const h = createHash('sha256').update(requestId).digest().readUInt32BE(0);
  return h / 0x1_0000_0000 < sample;
}

/**
 * The decision record of one Envoy HTTP access log entry (as grpc-js decodes
 * `envoy.data.accesslog.v3.HTTPAccessLogEntry`), or undefined when it is not to be recorded:
 * every deny (RBAC, ext_authz, an end-user JWT rejected, a path Envoy refused), every dry-run
 * "would deny", and the sampled share of allows. Who decided is read from the response code
 * details and the filters' dynamic metadata; a token is never recorded, only verified claims.
 */
export function decisionFromAccessLog(
  entry: unknown,
  ctx: AccessLogContext,
): DecisionRecord | undefined {
  const e = obj(entry);
  const common = obj(e['common_properties']);
  const request = obj(e['request']);
  const response = obj(e['response']);
  const requestId = text(request['request_id']);
  if (requestId === '') return undefined;
  const metadata = obj(obj(common['metadata'])['filter_metadata']);
  const meta = (name: string): Record<string, unknown> | undefined => {
    if (metadata[name] === undefined) return undefined;
    try {
      return structToJson(metadata[name], METADATA_LIMITS);
    } catch (err) {
      if (err instanceof StructError) return undefined;
      throw err;
    }
  };
  const code = Number(obj(response['response_code'])['value'] ?? 0);
  const details = text(response['response_code_details']);

  const verdict = verdictOf(code, details, meta(EXT_AUTHZ_METADATA));
  if (verdict === undefined) return undefined;
  const dryRun = verdict.dryRun ?? shadowOf(meta(RBAC_METADATA));
  const record =
    verdict.outcome === 'deny' ||
    dryRun?.outcome === 'deny' ||
    sampled(requestId, ctx.sampleAllows);
  if (!record) return undefined;

  const tls = obj(common['tls_properties']);
  const sans = obj(tls['peer_certificate_properties'])['subject_alt_name'];
  const principal = (Array.isArray(sans) ? sans : [])
    .map((s) => text(obj(s)['uri']))
    .find((u) => u.startsWith('spiffe://'));
  const remote = obj(obj(common['downstream_remote_address'])['socket_address']);
  const local = obj(obj(common['downstream_local_address'])['socket_address']);
  const listenerPort = Number(local['port_value'] ?? 0);
  const servicePorts = ctx.ports ?? [];
  const port =
    servicePorts.includes(listenerPort) || servicePorts[0] === undefined
      ? listenerPort
      : servicePorts[0];
  const logged = obj(request['request_headers']);
  const headers: Record<string, string> = {};
  for (const name of ctx.headerNames) {
    const v = logged[name];
    if (typeof v === 'string') headers[name] = text(v);
  }
  const claims = meta(JWT_AUTHN_METADATA)?.['payload'];
  return {
    at: ctx.now,
    requestId,
    ...(ctx.version !== undefined && { version: ctx.version }),
    enforcedBy: verdict.enforcedBy,
    source: {
      ...(principal !== undefined && { principal }),
      ...(text(remote['address']) !== '' && { address: text(remote['address']) }),
    },
    destination: {
      ...(ctx.service !== undefined && { service: ctx.service }),
      principal: ctx.destination,
      port,
    },
    request: {
      method: text(request['request_method']),
      host: text(request['authority']),
      path: text(request['original_path']) || text(request['path']),
      headers,
      ...(claims !== null && typeof claims === 'object' && !Array.isArray(claims)
        ? { claims: claims as Record<string, unknown> }
        : {}),
    },
    outcome: verdict.outcome,
    ...(verdict.policy !== undefined && { policy: verdict.policy }),
    ...(verdict.rule !== undefined && { rule: verdict.rule }),
    why: verdict.why,
    ...(dryRun !== undefined && { dryRun }),
  };
}

type Verdict = Pick<
  DecisionRecord,
  'outcome' | 'enforcedBy' | 'policy' | 'rule' | 'why' | 'dryRun'
>;

/** `policy/rule` as the RBAC compiler names its policies. */
function policyRule(name: string): { policy?: string; rule?: string } {
  const slash = name.indexOf('/');
  return slash < 0
    ? { policy: name }
    : { policy: name.slice(0, slash), rule: name.slice(slash + 1) };
}

function verdictOf(
  code: number,
  details: string,
  extAuthz: Record<string, unknown> | undefined,
): Verdict | undefined {
  const outcome = extAuthz?.['outcome'];
  if (outcome === 'allow' || outcome === 'deny') {
    const dryOutcome = extAuthz?.['dryRun'];
    const dry = { policy: extAuthz?.['dryRunPolicy'], rule: extAuthz?.['dryRunRule'] };
    return {
      outcome,
      enforcedBy: 'ext_authz',
      ...(typeof extAuthz?.['policy'] === 'string' && { policy: extAuthz['policy'] }),
      ...(typeof extAuthz?.['rule'] === 'string' && { rule: extAuthz['rule'] }),
      why: text(extAuthz?.['why']) || `${outcome} by Parley's ext_authz service`,
      ...((dryOutcome === 'allow' || dryOutcome === 'deny') && {
        dryRun: {
          outcome: dryOutcome,
          ...(typeof dry['policy'] === 'string' && { policy: dry['policy'] }),
          ...(typeof dry['rule'] === 'string' && { rule: dry['rule'] }),
        },
      }),
    };
  }
  const rbac = RBAC_DENIED.exec(details);
  if (rbac !== null) {
    const name = rbac[1] ?? '';
    if (name === 'none' || name === '') {
      return {
        outcome: 'deny',
        enforcedBy: 'rbac',
        why: 'no ALLOW rule matches (or the mesh default denies)',
      };
    }
    const ref = policyRule(name);
    return { outcome: 'deny', enforcedBy: 'rbac', ...ref, why: `RBAC policy "${name}" denies` };
  }
  if (details.startsWith('ext_authz')) {
    return {
      outcome: 'deny',
      enforcedBy: 'ext_authz',
      why:
        details === 'ext_authz_error'
          ? 'the ext_authz service failed or was unreachable: denied (fail closed)'
          : `denied by the ext_authz service (${details})`,
    };
  }
  if (details.startsWith('jwt_authn_access_denied') || (code === 401 && details.includes('jwt'))) {
    return { outcome: 'deny', enforcedBy: 'jwt', why: `end-user JWT rejected (${details})` };
  }
  if (code === 400 && details.includes('path')) {
    return { outcome: 'deny', enforcedBy: 'envoy', why: `request refused by Envoy (${details})` };
  }
  // Past every authorization filter: whatever the app answered, authorization allowed it.
  if (code === 0) return undefined;
  return { outcome: 'allow', enforcedBy: 'rbac', why: 'allowed by the RBAC filters' };
}

/** A dry-run "would" from RBAC shadow rules: any shadow engine that denied. */
function shadowOf(rbac: Record<string, unknown> | undefined): DecisionRecord['dryRun'] {
  if (rbac === undefined) return undefined;
  let allowSeen = false;
  for (const [key, value] of Object.entries(rbac)) {
    if (!key.endsWith('shadow_engine_result')) continue;
    if (value === 'denied') {
      const id = rbac[key.replace(/shadow_engine_result$/, 'shadow_effective_policy_id')];
      const ref = typeof id === 'string' && id !== '' ? policyRule(id) : {};
      return { outcome: 'deny', ...ref };
    }
    if (value === 'allowed') allowSeen = true;
  }
  return allowSeen ? { outcome: 'allow' } : undefined;
}
