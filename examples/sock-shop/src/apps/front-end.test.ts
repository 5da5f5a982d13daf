import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { carts } from './carts.js';
import { cartsDb } from './carts-db.js';
import { catalogue } from './catalogue.js';
import { frontEnd } from './front-end.js';
import { directCall } from '../http/direct-call.js';
import type { DemoRequest, Handler } from '../http/mesh-http.js';

function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): DemoRequest {
  return { method, path, query: new URLSearchParams(), headers, body };
}

describe('front-end', () => {
  const backends = (version: 'v1' | 'v2') =>
    directCall({ catalogue: catalogue({ version }), carts: carts(), 'carts-db': cartsDb() });
  const page: Handler = frontEnd({ newId: () => 'fresh-id' });

  it('renders the shop and gives a browser without one a cart cookie', async () => {
    const r = await page(request('GET', '/'), backends('v1'));
    assert.equal(r.status, 200);
    assert.equal(r.headers['set-cookie'], 'cart=fresh-id; Path=/; HttpOnly; SameSite=Lax');
    assert.match(r.body, /<h3>Nerd leg<\/h3>/);
    assert.match(r.body, /€7\.99/);
    assert.match(r.body, /Your cart is empty/);
    assert.doesNotMatch(r.body, /new!/);
  });

  it('shows v2 badges and keeps each cookie its own cart', async () => {
    const call = backends('v2');
    const add = await page(
      request('POST', '/cart', { cookie: 'theme=x; cart=abc' }, { id: 'classic', qty: '2' }),
      call,
    );
    assert.deepEqual([add.status, add.headers['location']], [303, '/']);
    const mine = await page(request('GET', '/', { cookie: 'cart=abc' }), call);
    assert.equal(mine.headers['set-cookie'], undefined);
    assert.match(mine.body, /<span class="badge">new!<\/span>/);
    assert.match(mine.body, /<td>Classic<\/td><td>2<\/td><td>€24\.00<\/td>/);
    const theirs = await page(request('GET', '/api/cart', { cookie: 'cart=def' }), call);
    assert.deepEqual(JSON.parse(theirs.body), { id: 'def', items: [], total: 0 });
  });

  it('still renders the page when the catalogue is down', async () => {
    const call = directCall({ carts: carts(), 'carts-db': cartsDb() });
    const r = await page(request('GET', '/', { cookie: 'cart=abc' }), call);
    assert.equal(r.status, 200);
    assert.match(r.body, /The catalogue is unavailable: catalogue answered 503/);
  });

  it('answers 404 for an unknown sock and 400 for a bad quantity', async () => {
    const call = directCall({ 'front-end': page, ...{ catalogue: catalogue({ version: 'v1' }) } });
    const unknown = await call('front-end', 'POST', '/api/cart', { id: 'argyle', qty: 1 });
    assert.deepEqual(unknown, { status: 404, body: { error: 'no sock "argyle"' } });
    const bad = await call('front-end', 'POST', '/api/cart', { id: 'classic', qty: 0 });
    assert.equal(bad.status, 400);
  });
});
