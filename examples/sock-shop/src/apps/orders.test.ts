import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { carts } from './carts.js';
import { cartsDb } from './carts-db.js';
import { catalogue } from './catalogue.js';
import { frontEnd } from './front-end.js';
import { orders } from './orders.js';
import type { Order } from './orders.js';
import { payment } from './payment.js';
import { user } from './user.js';
import { directCall } from '../http/direct-call.js';
import type { Handler } from '../http/mesh-http.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');

function shop(overrides: Record<string, Handler> = {}) {
  let n = 0;
  return directCall({
    catalogue: catalogue({ version: 'v1' }),
    carts: carts(),
    'carts-db': cartsDb(),
    orders: orders({ now: () => NOW, newId: () => `order-${++n}` }),
    payment: payment({ limit: 100 }),
    user: user(),
    ...overrides,
  });
}

/** Adds socks to the guest cart through the front-end's JSON API. */
async function fill(call: ReturnType<typeof shop>, items: [string, number][]) {
  for (const [id, qty] of items) {
    const r = await call('front-end', 'POST', '/api/cart', { id, qty });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

describe('orders', () => {
  it('charges the cart total, ships to the customer and empties the cart', async () => {
    const call = shop({ 'front-end': frontEnd({ newId: () => 'unused' }) });
    await fill(call, [
      ['classic', 2],
      ['nerd-leg', 1],
      ['classic', 1],
    ]);
    const r = await call('orders', 'POST', '/orders', { customer: 'alice', cart: 'guest' });
    assert.equal(r.status, 201);
    const order = r.body as Order;
    assert.equal(order.id, 'order-1');
    assert.equal(order.status, 'paid');
    assert.equal(order.total, 43.99); // 3 × 12 + 7.99, summed in cents
    assert.deepEqual(
      order.items.map((i) => [i.itemId, i.qty]),
      [
        ['classic', 3],
        ['nerd-leg', 1],
      ],
    );
    assert.equal(order.shipTo.city, 'Oxford');
    assert.equal(order.createdAt, NOW.toISOString());
    assert.deepEqual((await call('carts', 'GET', '/carts/guest')).body, {
      id: 'guest',
      items: [],
      total: 0,
    });
    assert.deepEqual((await call('orders', 'GET', '/orders/order-1')).body, order);
  });

  it('declines above the payment limit with 402 and keeps the cart', async () => {
    const call = shop({ 'front-end': frontEnd({ newId: () => 'unused' }) });
    await fill(call, [['holy', 2]]);
    const r = await call('orders', 'POST', '/orders', { customer: 'bob', cart: 'guest' });
    assert.equal(r.status, 402);
    const order = r.body as Order;
    assert.equal(order.status, 'declined');
    assert.equal(order.payment.authorised, false);
    assert.equal(order.total, 199.98);
    const cart = (await call('carts', 'GET', '/carts/guest')).body as { items: unknown[] };
    assert.equal(cart.items.length, 1);
  });

  it('refuses an empty cart and an unknown customer with 400', async () => {
    const call = shop({ 'front-end': frontEnd({ newId: () => 'unused' }) });
    const empty = await call('orders', 'POST', '/orders', { customer: 'alice', cart: 'c1' });
    assert.deepEqual(empty, { status: 400, body: { error: 'the cart is empty' } });
    await fill(call, [['classic', 1]]);
    const who = await call('orders', 'POST', '/orders', { customer: 'mallory', cart: 'guest' });
    assert.deepEqual(who, { status: 400, body: { error: 'unknown customer "mallory"' } });
    const bad = await call('orders', 'POST', '/orders', { customer: 'alice', cart: '../x' });
    assert.equal(bad.status, 400);
  });

  it('answers 502 and keeps the cart when payment fails', async () => {
    const down: Handler = async () => ({
      status: 503,
      headers: {},
      body: 'upstream connect error',
    });
    const call = shop({ 'front-end': frontEnd({ newId: () => 'unused' }), payment: down });
    await fill(call, [['classic', 1]]);
    const r = await call('orders', 'POST', '/orders', { customer: 'alice', cart: 'guest' });
    assert.deepEqual(r, { status: 502, body: { error: 'payment answered 503' } });
    const cart = (await call('carts', 'GET', '/carts/guest')).body as { items: unknown[] };
    assert.equal(cart.items.length, 1);
  });
});
