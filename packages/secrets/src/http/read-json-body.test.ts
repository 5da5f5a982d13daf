import assert from 'node:assert/strict';
import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isParleyError } from '@parley/core';
import { readJsonBody } from './read-json-body.js';

describe('readJsonBody', () => {
  let server: Server;
  let port = 0;
  let last: { value?: unknown; error?: unknown } = {};

  before(async () => {
    server = createServer((req, res) => {
      readJsonBody(req, { maxBytes: 64 }).then(
        (value) => {
          last = { value };
          res.end('ok');
        },
        (error: unknown) => {
          last = { error };
          res.writeHead(400, { connection: 'close' }).end('no');
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Posts `chunks` (chunked when `chunked`, else with Content-Length) and returns what was read. */
  function post(
    chunks: string[],
    headers: Record<string, string> = {},
    chunked = false,
  ): Promise<{ value?: unknown; error?: unknown }> {
    return new Promise((resolve, reject) => {
      const body = chunks.join('');
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          headers: chunked ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(last));
        },
      );
      req.on('error', (err) => (last.error !== undefined ? resolve(last) : reject(err)));
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  it('reads JSON without a content-type, numbers as numbers', async () => {
    const { value } = await post(['{"data":{"n":1.5,"a":[true,null,"x"]}}']);
    assert.deepEqual(JSON.parse(JSON.stringify(value)), { data: { n: 1.5, a: [true, null, 'x'] } });
  });

  it('returns undefined for an empty body', async () => {
    const got = await post([], { 'content-type': 'application/json' });
    assert.deepEqual(got, { value: undefined });
  });

  it('keeps __proto__ an own key, never the prototype', async () => {
    const { value } = await post(['{"__proto__":{"polluted":true}}']);
    const obj = value as Record<string, unknown>;
    assert.ok(Object.hasOwn(obj, '__proto__'));
    assert.equal(Object.getPrototypeOf(obj), null);
    assert.equal(obj['constructor'], undefined);
    assert.equal((obj as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('refuses invalid JSON and duplicate keys as invalid-argument', async () => {
    for (const text of ['{"a":', '{"a":1,"a":2}', '{"a":1} x', '\u00ff']) {
      const { error } = await post([text]);
      assert.ok(isParleyError(error, 'invalid-argument'), `${text}: ${String(error)}`);
    }
  });

  it('refuses a body over maxBytes, declared or counted, as resource-exhausted', async () => {
    const big = `{"a":"${'x'.repeat(100)}"}`;
    const declared = await post([big]);
    assert.ok(isParleyError(declared.error, 'resource-exhausted'), String(declared.error));
    const counted = await post([big.slice(0, 50), big.slice(50)], {}, true);
    assert.ok(isParleyError(counted.error, 'resource-exhausted'), String(counted.error));
  });
});
