import type { IncomingMessage, ServerResponse } from 'node:http';
import { ParleyError, invalidArgument } from '@parley/core';
import type { AdminApiDeps } from './admin-api-deps.js';
import type { ErrorDto, HealthDto } from './admin-dto.js';
import { agentRoutes } from './agent-routes.js';
import { authorityRoutes } from './authority-routes.js';
import { bundleRoutes } from './bundle-routes.js';
import { entryRoutes } from './entry-routes.js';
import { HTTP_STATUS } from './http-status.js';
import { joinTokenRoutes } from './join-token-routes.js';
import { mintRoutes } from './mint-routes.js';
import { readJsonBody } from './request-body.js';
import { type Route, checkQuery, matchRoute } from './route.js';

function send(res: ServerResponse, status: number, body: unknown, close: boolean): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // Responses may carry a join token or an SVID: nothing is cached anywhere.
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument('the request path has malformed percent-encoding');
  }
}

/**
 * The server's admin API: HTTP/1.1 JSON under `/v1/`, served by the composition root on a Unix
 * socket whose mode (0600) is the authentication, as SPIRE's admin socket. Returns a plain
 * node:http request handler. Bodies are bounded and parsed strictly (unknown fields are errors);
 * failures are `{ "error": { "code", "message" } }` with the status of `HTTP_STATUS`; unexpected
 * ones are logged and reported as a bare "internal error". Every change is audited in the
 * transaction that makes it.
 */
export function createAdminApi(
  deps: AdminApiDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const health: Route = {
    method: 'GET',
    path: '/v1/health',
    handle: async () => {
      try {
        await deps.db.query('SELECT 1');
      } catch (err) {
        throw new ParleyError('unavailable', 'the datastore does not answer', { cause: err });
      }
      const dto: HealthDto = { status: 'ok', trustDomain: deps.trustDomain.name };
      return { body: dto };
    },
  };
  const routes: readonly Route[] = [
    health,
    ...joinTokenRoutes(deps),
    ...entryRoutes(deps),
    ...agentRoutes(deps),
    ...bundleRoutes(deps),
    ...mintRoutes(deps),
    ...authorityRoutes(deps),
    ...(deps.extraRoutes ?? []),
  ];

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '';
    if (!target.startsWith('/') || target.startsWith('//'))
      throw invalidArgument('the request target must be an absolute path');
    const q = target.indexOf('?');
    const pathname = q < 0 ? target : target.slice(0, q);
    const search = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const segments = pathname.split('/').slice(1).map(decodeSegment);
    for (const route of routes) {
      if (route.method !== req.method) continue;
      const params = matchRoute(route, segments);
      if (params === undefined) continue;
      const query = checkQuery(route, search);
      if (route.body !== true && hasBody(req))
        throw invalidArgument(`${route.method} ${route.path} takes no request body`);
      const body = route.body === true ? await readJsonBody(req) : undefined;
      const out = await route.handle({ params, query, body });
      send(res, out.status ?? 200, out.body, false);
      return;
    }
    throw new ParleyError(
      'not-found',
      `no admin API endpoint ${String(req.method).slice(0, 16)} ${pathname.slice(0, 128)}`,
    );
  }

  return (req, res) => {
    serve(req, res).catch((err: unknown) => {
      let error: ParleyError;
      if (err instanceof ParleyError && err.code !== 'internal') {
        error = err;
      } else {
        deps.log?.('admin API: internal error', err);
        error = new ParleyError('internal', 'internal error');
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body: ErrorDto = { error: { code: error.code, message: error.message } };
      // A body left unread (refused, or too large) is not drained: the connection closes.
      send(res, HTTP_STATUS[error.code], body, !req.complete);
    });
  };
}
