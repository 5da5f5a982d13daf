import { invalidArgument } from '@parley/core';
import type { PlainJson } from './request-body.js';

/** What a route handler is given: decoded path parameters, checked query and parsed body. */
export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  /** Each query parameter the route declares, with every value given (in order). */
  readonly query: ReadonlyMap<string, readonly string[]>;
  /** The parsed JSON body (routes with `body: true`), else undefined. */
  readonly body: PlainJson | undefined;
}

/** What a route handler returns: a status (200 by default) and a JSON-serializable body. */
export interface RouteResponse {
  readonly status?: number;
  readonly body: unknown;
}

/** One endpoint of the admin API. */
export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Segments after the leading `/`; `:name` matches one (percent-decoded) segment. */
  readonly path: string;
  /** The query parameters it takes: `one` at most once, `many` repeatable; others are errors. */
  readonly query?: Readonly<Record<string, 'one' | 'many'>>;
  /** Whether it takes a JSON body (required when true, refused when not). */
  readonly body?: boolean;
  readonly handle: (req: RouteRequest) => Promise<RouteResponse>;
}

/** The path parameters of `route` if it matches `segments` (already decoded), else undefined. */
export function matchRoute(
  route: Route,
  segments: readonly string[],
): Record<string, string> | undefined {
  const pattern = route.path.split('/').slice(1);
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    const s = segments[i] ?? '';
    if (p.startsWith(':')) {
      if (s === '') return undefined;
      params[p.slice(1)] = s;
    } else if (p !== s) {
      return undefined;
    }
  }
  return params;
}

/** Checks a request's query against what the route declares. */
export function checkQuery(route: Route, search: URLSearchParams): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, value] of search) {
    const kind =
      route.query !== undefined && Object.hasOwn(route.query, key) ? route.query[key] : undefined;
    if (kind === undefined) throw invalidArgument(`unknown query parameter "${key.slice(0, 64)}"`);
    const values = out.get(key) ?? [];
    if (kind === 'one' && values.length > 0)
      throw invalidArgument(`query parameter "${key}" is given more than once`);
    values.push(value);
    out.set(key, values);
  }
  return out;
}

/** The single value of query parameter `key`, or undefined. */
export function queryOne(req: RouteRequest, key: string): string | undefined {
  return req.query.get(key)?.[0];
}
