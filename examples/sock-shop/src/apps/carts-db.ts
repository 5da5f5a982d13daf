// carts-db: a small in-memory key-value store over HTTP (`GET/PUT/DELETE /kv/<key>`), holding
// JSON values.
import { DemoError, json } from '../http/mesh-http.js';
import type { DemoResponse, Handler } from '../http/mesh-http.js';

/** How many keys the store holds at most (a demo bound, not a database). */
export const MAX_KEYS = 100_000;

/** The key-value service; its data lives as long as the handler. */
export function cartsDb(): Handler {
  const data = new Map<string, string>();
  return async (req) => {
    const m = /^\/kv\/([A-Za-z0-9:_.-]{1,200})$/.exec(req.path);
    if (m === null) throw new DemoError(404, `no route for ${req.path}`);
    const key = m[1] ?? '';
    switch (req.method) {
      case 'GET': {
        const value = data.get(key);
        if (value === undefined) throw new DemoError(404, `no key "${key}"`);
        return raw(200, value);
      }
      case 'PUT':
        if (req.body === undefined) throw new DemoError(400, 'PUT needs a JSON body');
        if (!data.has(key) && data.size >= MAX_KEYS) {
          throw new DemoError(507, `the store is full (${MAX_KEYS} keys)`);
        }
        data.set(key, JSON.stringify(req.body));
        return { status: 204, headers: {}, body: '' };
      case 'DELETE':
        data.delete(key);
        return { status: 204, headers: {}, body: '' };
      default:
        throw new DemoError(405, `${req.method} is not allowed here`);
    }
  };
}

function raw(status: number, body: string): DemoResponse {
  return { ...json(status, null), body };
}
