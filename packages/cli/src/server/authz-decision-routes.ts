import type { DecisionRecord, EnforcementPoint } from '@parley/authz';
import { type Clock, ParleyError, invalidArgument, parseDuration } from '@parley/core';
import type { Route, RouteRequest } from '@parley/identity';
import { type Queryable, listAuditEvents } from '@parley/store';

/** A decision of the log with its place in the audit chain (`seq`, the paging cursor). */
export type LoggedDecision = DecisionRecord & { readonly seq: number };

/** The body of `GET /v1/authz/decisions`. */
export interface DecisionsDto {
  readonly decisions: readonly LoggedDecision[];
}

/** How many decisions `GET /v1/authz/decisions` returns when `limit` is absent. */
export const DEFAULT_DECISIONS_LIMIT = 100;
/** The most decisions one request returns (page further with `before`). */
export const MAX_DECISIONS_LIMIT = 10_000;

/** Where decisions are in the audit chain (DecisionWriter appends them so). */
const MODULE = 'authz';
const ACTION = 'decision';
/** Every denied record's JSON holds this; so may a dry-run "would deny": the outcome is checked. */
const DENY_TEXT = '"outcome":"deny"';
const MAX_REQUEST_ID = 1024;
const ENFORCEMENT_POINTS: readonly EnforcementPoint[] = ['rbac', 'ext_authz', 'jwt', 'envoy'];

/** What the decision routes read: the store and the time (for `since`). */
export interface AuthzDecisionRoutesDeps {
  readonly db: Queryable;
  readonly clock: Clock;
}

type Json = Record<string, unknown>;

/** A cursor over an untrusted JSON object that names the path of the first problem. */
function fields(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(`${path}: expected an object`);
  }
  return value as Json;
}

function str(o: Json, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw invalidArgument(`${path}.${key}: expected a string`);
  return v;
}

function optStr(o: Json, key: string, path: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, path);
}

function int(o: Json, key: string, path: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalidArgument(`${path}.${key}: expected an integer between ${min} and ${max}`);
  }
  return v;
}

function oneOf<T extends string>(o: Json, key: string, path: string, values: readonly T[]): T {
  const v = str(o, key, path);
  if (!(values as readonly string[]).includes(v)) {
    throw invalidArgument(`${path}.${key}: must be one of ${values.join(', ')}`);
  }
  return v as T;
}

function headersOf(value: unknown, path: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, v] of Object.entries(fields(value, path))) {
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[name] = [...v];
    else throw invalidArgument(`${path}.${name}: expected a string or a list of strings`);
  }
  return out;
}

/**
 * Parses a decision record (stored JSON, or a response of the admin API) at the edge: every field
 * DecisionRecord has is checked and copied; fields it does not know are left out, so a newer
 * server's additions do not break an older reader. Throws an invalid-argument ParleyError naming
 * the first bad field.
 */
export function parseDecisionRecord(value: unknown, path = 'decision'): DecisionRecord {
  const o = fields(value, path);
  const source = fields(o['source'], `${path}.source`);
  const destination = fields(o['destination'], `${path}.destination`);
  const request = fields(o['request'], `${path}.request`);
  const version = optStr(o, 'version', path);
  const principal = optStr(source, 'principal', `${path}.source`);
  const address = optStr(source, 'address', `${path}.source`);
  const service = optStr(destination, 'service', `${path}.destination`);
  const claims =
    request['claims'] === undefined
      ? undefined
      : fields(request['claims'], `${path}.request.claims`);
  const policy = optStr(o, 'policy', path);
  const rule = optStr(o, 'rule', path);
  let dryRun: DecisionRecord['dryRun'];
  if (o['dryRun'] !== undefined) {
    const d = fields(o['dryRun'], `${path}.dryRun`);
    const dryPolicy = optStr(d, 'policy', `${path}.dryRun`);
    const dryRule = optStr(d, 'rule', `${path}.dryRun`);
    dryRun = {
      outcome: oneOf(d, 'outcome', `${path}.dryRun`, ['allow', 'deny'] as const),
      ...(dryPolicy !== undefined && { policy: dryPolicy }),
      ...(dryRule !== undefined && { rule: dryRule }),
    };
  }
  const requestId = str(o, 'requestId', path);
  if (requestId === '') throw invalidArgument(`${path}.requestId: must not be empty`);
  return {
    at: int(o, 'at', path, 0, Number.MAX_SAFE_INTEGER),
    requestId,
    ...(version !== undefined && { version }),
    enforcedBy: oneOf(o, 'enforcedBy', path, ENFORCEMENT_POINTS),
    source: {
      ...(principal !== undefined && { principal }),
      ...(address !== undefined && { address }),
    },
    destination: {
      ...(service !== undefined && { service }),
      principal: str(destination, 'principal', `${path}.destination`),
      port: int(destination, 'port', `${path}.destination`, 0, 65535),
    },
    request: {
      method: str(request, 'method', `${path}.request`),
      host: str(request, 'host', `${path}.request`),
      path: str(request, 'path', `${path}.request`),
      headers: headersOf(request['headers'], `${path}.request.headers`),
      ...(claims !== undefined && { claims }),
    },
    outcome: oneOf(o, 'outcome', path, ['allow', 'deny'] as const),
    ...(policy !== undefined && { policy }),
    ...(rule !== undefined && { rule }),
    why: str(o, 'why', path),
    ...(dryRun !== undefined && { dryRun }),
  };
}

/** Parses the body of `GET /v1/authz/decisions` (a client's edge). */
export function parseDecisionsDto(body: unknown): LoggedDecision[] {
  const list = fields(body, 'response')['decisions'];
  if (!Array.isArray(list)) throw invalidArgument('response.decisions: expected a list');
  return list.map((item, i) => {
    const path = `response.decisions[${i}]`;
    const seq = int(fields(item, path), 'seq', path, 1, Number.MAX_SAFE_INTEGER);
    return { seq, ...parseDecisionRecord(item, path) };
  });
}

function queryOne(req: RouteRequest, key: string): string | undefined {
  return req.query.get(key)?.[0];
}

function queryInt(req: RouteRequest, key: string, min: number, max: number): number | undefined {
  const text = queryOne(req, key);
  if (text === undefined) return undefined;
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidArgument(`${key} must be an integer between ${min} and ${max}`);
  }
  return n;
}

/** The filters of `GET /v1/authz/decisions`, parsed strictly from its query. */
interface DecisionsQuery {
  readonly denied: boolean;
  readonly sinceMs?: number;
  readonly limit: number;
  readonly requestId?: string;
  readonly beforeSeq?: number;
}

function parseDecisionsQuery(req: RouteRequest, now: number): DecisionsQuery {
  const denied = queryOne(req, 'denied');
  if (denied !== undefined && denied !== 'true' && denied !== 'false') {
    throw invalidArgument('denied must be true or false');
  }
  const since = queryOne(req, 'since');
  const requestId = queryOne(req, 'requestId');
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (requestId !== undefined && !/^[^\u0000-\u001f\u007f]{1,1024}$/u.test(requestId)) {
    throw invalidArgument(
      `requestId must be 1 to ${MAX_REQUEST_ID} characters without control characters`,
    );
  }
  const beforeSeq = queryInt(req, 'before', 1, Number.MAX_SAFE_INTEGER);
  return {
    denied: denied === 'true',
    ...(since !== undefined && {
      sinceMs: Math.max(0, now - parseSince(since)),
    }),
    limit: queryInt(req, 'limit', 1, MAX_DECISIONS_LIMIT) ?? DEFAULT_DECISIONS_LIMIT,
    ...(requestId !== undefined && { requestId }),
    ...(beforeSeq !== undefined && { beforeSeq }),
  };
}

function parseSince(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw invalidArgument(`since: ${(err as Error).message}`);
  }
}

/** Rows read at least per round when filtering denials, so lookalikes cost few round trips. */
const DENIED_BATCH = 256;

/** Reads the decisions a query selects, newest first, paging past dry-run "would deny" lookalikes. */
async function readDecisions(db: Queryable, q: DecisionsQuery): Promise<LoggedDecision[]> {
  const found: LoggedDecision[] = [];
  let beforeSeq = q.beforeSeq;
  for (;;) {
    const want = q.limit - found.length;
    const batch = q.denied ? Math.min(MAX_DECISIONS_LIMIT, Math.max(want, DENIED_BATCH)) : want;
    const events = await listAuditEvents(db, {
      module: MODULE,
      action: ACTION,
      order: 'desc',
      limit: batch,
      ...(q.requestId !== undefined && { subject: q.requestId }),
      ...(q.sinceMs !== undefined && { sinceMs: q.sinceMs }),
      ...(beforeSeq !== undefined && { beforeSeq }),
      ...(q.denied && { detailContains: DENY_TEXT }),
    });
    for (const e of events) {
      let record: DecisionRecord;
      try {
        record = parseDecisionRecord(JSON.parse(e.detail) as unknown, 'record');
      } catch (err) {
        // Written by this server and append-only: a record that does not parse is a bug to see.
        throw new ParleyError(
          'failed-precondition',
          `audit event ${e.seq} is not a valid decision record: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (q.denied && record.outcome !== 'deny') continue;
      found.push({ seq: e.seq, ...record });
      if (found.length >= q.limit) return found;
    }
    const last = events.at(-1);
    if (events.length < batch || last === undefined) return found;
    beforeSeq = last.seq;
  }
}

/**
 * The decision log on the admin API: `GET /v1/authz/decisions` → `{"decisions": [...]}`, newest
 * first, each a DecisionRecord with its audit chain `seq`. Query: `denied=true|false` (only
 * denials), `since=DURATION` (e.g. `5m`), `limit=N` (1 … 10,000, default 100),
 * `requestId=ID` (the decision of one request), `before=SEQ` (the next page: decisions older
 * than the last one received).
 */
export function authzDecisionRoutes(deps: AuthzDecisionRoutesDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/authz/decisions',
      query: { denied: 'one', since: 'one', limit: 'one', requestId: 'one', before: 'one' },
      handle: async (req) => {
        const query = parseDecisionsQuery(req, deps.clock.now());
        const dto: DecisionsDto = { decisions: await readDecisions(deps.db, query) };
        return { body: dto };
      },
    },
  ];
}
