import { ParleyError, invalidArgument } from '@parley/core';
import type { Route } from '@parley/identity';
import { type Endpoint, type MeshStatus, parseEndpoint } from '@parley/mesh';
import { type AuthzCheckInput, type CheckOutput, parseAuthzCheckInput } from './authz-check.js';

/** What the mesh's admin routes need from the running mesh module. */
export interface MeshAdmin {
  status(): MeshStatus;
  /** Registers the endpoints of a service (replacing earlier ones); returns the new version. */
  registerEndpoints(
    service: string,
    endpoints: readonly Endpoint[],
  ): { ok: true; version: string } | { ok: false; reason: string };
  /** Decides a hypothetical request by the served commit's authorization policies, now. */
  checkAuthorization(input: AuthzCheckInput): Promise<CheckOutput>;
}

const MAX_ENDPOINTS = 1000;

/**
 * The mesh's admin API: `GET /v1/mesh/status` (what `parley mesh status` prints) and
 * `PUT /v1/mesh/services/:name/endpoints` with `{"endpoints": [...]}` — instances registered at
 * run time (by `parley up`), checked like static ones and layered over every later commit — and
 * `POST /v1/authz/check`: a hypothetical request decided by the served commit's policies.
 */
export function meshRoutes(mesh: MeshAdmin | undefined): Route[] {
  const running = (): MeshAdmin => {
    if (mesh === undefined) {
      throw new ParleyError('not-found', 'the mesh module is off (no mesh: in the server config)');
    }
    return mesh;
  };
  return [
    {
      method: 'GET',
      path: '/v1/mesh/status',
      handle: () => Promise.resolve({ body: running().status() }),
    },
    {
      method: 'PUT',
      path: '/v1/mesh/services/:name/endpoints',
      body: true,
      handle: ({ params, body }) => {
        const m = running();
        const list = (body as { endpoints?: unknown } | null)?.endpoints;
        const keys = body !== null && typeof body === 'object' ? Object.keys(body) : [];
        if (!Array.isArray(list) || keys.some((k) => k !== 'endpoints')) {
          throw invalidArgument('the body must be {"endpoints": [...]} and nothing else');
        }
        if (list.length > MAX_ENDPOINTS) {
          throw invalidArgument(`at most ${MAX_ENDPOINTS} endpoints per service`);
        }
        const endpoints = list.map((value, i) => {
          const parsed = parseEndpoint(value);
          if (!parsed.ok) {
            const first = parsed.problems[0];
            const why = first === undefined ? 'invalid' : `${first.path}: ${first.message}`;
            throw invalidArgument(`endpoints[${i}].${why}`);
          }
          return parsed.endpoint;
        });
        const result = m.registerEndpoints(params['name'] ?? '', endpoints);
        if (!result.ok) throw new ParleyError('failed-precondition', result.reason);
        return Promise.resolve({ body: { version: result.version } });
      },
    },
    {
      method: 'POST',
      path: '/v1/authz/check',
      body: true,
      handle: ({ body }) => {
        const m = running();
        return m.checkAuthorization(parseAuthzCheckInput(body)).then((r) => ({ body: r }));
      },
    },
  ];
}
