import { createHash } from 'node:crypto';
import {
  type ServerUnaryCall,
  type UntypedServiceImplementation,
  type handleUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { Clock } from '@parley/core';
import { evaluateRequest } from '../evaluate/evaluate-request.js';
import type { AuthzSnapshot } from '../model/authz-snapshot.js';
import type { Decision } from '../model/decision.js';
import type { DecisionRecord } from '../model/decision-record.js';
import { type SeenRequest, checkRequestToAuthz, seenOfCheckRequest } from './check-request.js';
import type { stringStruct } from './proto-struct.js';

/** What the Check service needs from its neighbours (STYLE rule 5). */
export interface CheckServiceDeps {
  /** The policies and workloads to decide with; undefined until the first snapshot arrives. */
  readonly snapshot: () => AuthzSnapshot | undefined;
  readonly clock: Clock;
  /**
   * Receives the decision log entries: every deny, every dry-run "would deny", and the allows
   * `sampleAllows` selects. Called synchronously; it must not throw (a throw is logged).
   */
  readonly onDecision?: (record: DecisionRecord) => void;
  /** Share of allows recorded, 0–1, chosen by a hash of the request id (default 0.1). */
  readonly sampleAllows?: number;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/** A CheckResponse (envoy.service.auth.v3) as plain data with proto field names. */
export interface CheckResponseMessage {
  readonly status: { readonly code: number; readonly message: string };
  readonly ok_response?: Record<string, never>;
  readonly denied_response?: {
    readonly status: { readonly code: 'Forbidden' };
    readonly headers: readonly {
      readonly header: { readonly key: string; readonly value: string };
      readonly append_action: 'OVERWRITE_IF_EXISTS_OR_ADD';
    }[];
    readonly body: string;
  };
  readonly dynamic_metadata: ReturnType<typeof stringStruct>;
}

/** The Check handler, for `server.addService(loadXdsServices().Authorization.service, …)`. */
export interface CheckService extends UntypedServiceImplementation {
  Check: handleUnaryCall<unknown, CheckResponseMessage>;
}

/** Headers whose values are credentials: a decision record keeps a digest of them, never the value. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
/** Longest `why` sent to Envoy as dynamic metadata (the record keeps it whole). */
const MAX_METADATA_WHY = 1024;
/** Longest recorded header value. */
const MAX_RECORDED_VALUE = 4096;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What a Check call decided, before it becomes a response. */
interface Answer {
  readonly outcome: 'allow' | 'deny';
  readonly requestId: string;
  readonly why: string;
  readonly version?: string;
  readonly policy?: string;
  readonly rule?: string;
  readonly dryRun?: Decision['dryRun'];
}

/**
 * Parley's external authorization service (`envoy.service.auth.v3.Authorization/Check`, DESIGN
 * §3): each request is decided by `evaluateRequest` against the current snapshot. Allow answers
 * OK; deny answers PERMISSION_DENIED with a 403 that carries the request id and nothing about
 * policies (the why goes to the decision log and to Envoy's dynamic metadata, namespace
 * `envoy.filters.http.ext_authz`). It fails closed: no snapshot, an unknown destination, a
 * malformed or oversized request, and any internal error all deny.
 */
export function createCheckService(deps: CheckServiceDeps): CheckService {
  const rate = deps.sampleAllows ?? 0.1;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`sampleAllows must be 0–1, got ${rate}`);
  const log = deps.log ?? (() => undefined);

  const record = (r: DecisionRecord): void => {
    if (deps.onDecision === undefined) return;
    try {
      deps.onDecision(r);
    } catch (err) {
      log('ext_authz: decision log sink failed', { error: (err as Error).message });
    }
  };

  const decide = (check: unknown): Answer => {
    const now = deps.clock.now();
    const snapshot = deps.snapshot();
    const mapped =
      snapshot === undefined ? undefined : checkRequestToAuthz(check, snapshot, new Date(now));
    if (snapshot === undefined || mapped === undefined || !mapped.ok) {
      const refused =
        mapped !== undefined && !mapped.ok
          ? mapped
          : { ...seenOfCheckRequest(check), reason: 'no policy snapshot is loaded yet' };
      const answer: Answer = {
        outcome: 'deny',
        requestId: refused.requestId,
        why: `refused before any policy: ${refused.reason}`,
        ...(snapshot !== undefined && { version: snapshot.version }),
      };
      if (deps.onDecision !== undefined) record(recordOf(now, answer, refused.seen));
      return answer;
    }
    const decision = evaluateRequest(snapshot.policySet, mapped.request, { explain: false });
    const by = decision.decidedBy;
    // Field by field, not with conditional spreads: this is the hot path.
    const answer: Mutable<Answer> = {
      outcome: decision.outcome,
      requestId: mapped.requestId,
      why: decision.why,
      version: snapshot.version,
    };
    if (by.kind === 'policy') {
      answer.policy = by.policy;
      answer.rule = by.rule;
    }
    if (decision.dryRun !== undefined) answer.dryRun = decision.dryRun;
    // Without a sink there is nothing to record: skip building the record.
    if (deps.onDecision === undefined) return answer;
    const wouldDeny = decision.dryRun?.outcome === 'deny';
    if (
      decision.outcome === 'deny' ||
      wouldDeny ||
      (rate > 0 && sampleFraction(mapped.requestId) < rate)
    ) {
      const req = mapped.request;
      const seen: SeenRequest = {
        source: {
          ...(req.source.principal !== undefined && { principal: req.source.principal }),
          ...(req.source.address !== undefined && { address: req.source.address }),
        },
        destination: {
          ...(req.destination.service !== undefined && { service: req.destination.service }),
          principal: req.destination.principal,
          port: req.destination.port,
        },
        request: {
          method: req.request.method,
          host: req.request.host,
          path: req.request.path,
          headers: recordedHeaders(req.request.headers, snapshot.headerNames),
          ...(req.request.auth !== undefined && { claims: req.request.auth.claims }),
        },
      };
      record(recordOf(now, answer, seen));
    }
    return answer;
  };

  return {
    Check(
      call: ServerUnaryCall<unknown, CheckResponseMessage>,
      callback: sendUnaryData<CheckResponseMessage>,
    ) {
      let answer: Answer;
      try {
        answer = decide(call.request);
      } catch (err) {
        log('ext_authz: internal error; denying', { error: (err as Error).message });
        answer = { outcome: 'deny', requestId: requestIdOf(call.request), why: 'internal error' };
      }
      callback(null, checkResponse(answer));
    },
  };
}

/** The CheckResponse of an answer. */
function checkResponse(a: Answer): CheckResponseMessage {
  // The Struct stringStruct would make of these string fields, built without its entry arrays.
  const fields: Record<string, { stringValue: string }> = { outcome: { stringValue: a.outcome } };
  if (a.policy !== undefined) fields['policy'] = { stringValue: a.policy };
  if (a.rule !== undefined) fields['rule'] = { stringValue: a.rule };
  fields['why'] = {
    stringValue:
      a.why.length <= MAX_METADATA_WHY ? a.why : `${a.why.slice(0, MAX_METADATA_WHY - 1)}…`,
  };
  fields['version'] = { stringValue: a.version ?? '' };
  if (a.dryRun !== undefined) {
    fields['dryRun'] = { stringValue: a.dryRun.outcome };
    if (a.dryRun.decidedBy.kind === 'policy') {
      fields['dryRunPolicy'] = { stringValue: a.dryRun.decidedBy.policy };
      fields['dryRunRule'] = { stringValue: a.dryRun.decidedBy.rule };
    }
  }
  const metadata: ReturnType<typeof stringStruct> = { fields };
  if (a.outcome === 'allow') {
    return {
      status: { code: status.OK, message: '' },
      ok_response: {},
      dynamic_metadata: metadata,
    };
  }
  const header = (key: string, value: string) => ({
    header: { key, value },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' as const,
  });
  return {
    status: { code: status.PERMISSION_DENIED, message: 'denied by policy' },
    denied_response: {
      status: { code: 'Forbidden' },
      headers: [header('x-request-id', a.requestId), header('content-type', 'text/plain')],
      body: `RBAC: access denied (request id ${a.requestId})\n`,
    },
    dynamic_metadata: metadata,
  };
}

function recordOf(at: number, a: Answer, seen: SeenRequest): DecisionRecord {
  const dry = a.dryRun;
  return {
    at,
    requestId: a.requestId,
    ...(a.version !== undefined && { version: a.version }),
    enforcedBy: 'ext_authz',
    ...seen,
    outcome: a.outcome,
    ...(a.policy !== undefined && { policy: a.policy }),
    ...(a.rule !== undefined && { rule: a.rule }),
    why: a.why,
    ...(dry !== undefined && {
      dryRun: {
        outcome: dry.outcome,
        ...(dry.decidedBy.kind === 'policy' && {
          policy: dry.decidedBy.policy,
          rule: dry.decidedBy.rule,
        }),
      },
    }),
  };
}

/** The headers a record keeps: those the policies name; credentials as a digest only. */
function recordedHeaders(
  headers: Readonly<Record<string, string | readonly string[]>>,
  names: readonly string[],
): Record<string, string | readonly string[]> {
  const keep = (name: string, v: string): string => {
    if (CREDENTIAL_HEADERS.has(name)) {
      return `sha256:${createHash('sha256').update(v).digest('hex').slice(0, 16)}`;
    }
    return v.length <= MAX_RECORDED_VALUE ? v : v.slice(0, MAX_RECORDED_VALUE);
  };
  const out: [string, string | readonly string[]][] = [];
  for (const name of names) {
    if (!Object.hasOwn(headers, name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    out.push([name, typeof v === 'string' ? keep(name, v) : v.map((x) => keep(name, x))]);
  }
  return Object.fromEntries(out);
}

/** Where an allow falls in [0, 1): a hash of the request id, so a sample is reproducible. */
function sampleFraction(requestId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) {
    h ^= requestId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // MurmurHash3's finalizer: ids that differ only in their last characters spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** The request id of a request that could not be decided at all (an internal error). */
function requestIdOf(check: unknown): string {
  try {
    return seenOfCheckRequest(check).requestId;
  } catch {
    return '-';
  }
}
