// Orders: reads the shopper's cart from carts, the customer's address from user, asks payment to
// authorize the total, empties the cart when paid, and returns the order.
import { CART_ID, parseCart } from './carts.js';
import type { CartItem } from './carts.js';
import type { Customer } from './user.js';
import { DemoError, asObject, expectOk, json } from '../http/mesh-http.js';
import type { Call, Handler } from '../http/mesh-http.js';

/** An order as orders answers it (201 when paid, 402 when payment declined). */
export interface Order {
  readonly id: string;
  readonly customer: string;
  readonly cart: string;
  readonly shipTo: Customer['address'];
  readonly items: readonly CartItem[];
  readonly total: number;
  readonly payment: { readonly authorised: boolean; readonly message: string };
  readonly status: 'paid' | 'declined';
  readonly createdAt: string;
}

/** What orders needs besides the services it calls. */
export interface OrdersDeps {
  readonly now: () => Date;
  readonly newId: () => string;
}

/** The orders service: `POST /orders {customer, cart}`, `GET /orders/<id>`. */
export function orders(deps: OrdersDeps): Handler {
  const placed = new Map<string, Order>();
  const MAX_KEPT = 1000;
  return async (req, call) => {
    if (req.path === '/orders' && req.method === 'POST') {
      const order = await place(req.body, call, deps);
      if (placed.size >= MAX_KEPT) placed.delete(placed.keys().next().value ?? '');
      placed.set(order.id, order);
      return json(order.status === 'paid' ? 201 : 402, order);
    }
    const m = /^\/orders\/([^/]+)$/.exec(req.path);
    if (m !== null && req.method === 'GET') {
      const order = placed.get(m[1] ?? '');
      if (order === undefined) throw new DemoError(404, `no order "${m[1]}"`);
      return json(200, order);
    }
    throw new DemoError(404, `no route for ${req.method} ${req.path}`);
  };
}

async function place(body: unknown, call: Call, deps: OrdersDeps): Promise<Order> {
  const o = asObject(body, 'the order');
  const { customer, cart: cartId } = o;
  if (typeof customer !== 'string' || !/^[a-z0-9-]{1,64}$/.test(customer)) {
    throw new DemoError(400, 'customer must be a customer id');
  }
  if (typeof cartId !== 'string' || !CART_ID.test(cartId)) {
    throw new DemoError(400, 'cart must be a cart id');
  }
  const [cartResult, userResult] = await Promise.all([
    call('carts', 'GET', `/carts/${cartId}`),
    call('user', 'GET', `/customers/${customer}`),
  ]);
  if (userResult.status === 404) throw new DemoError(400, `unknown customer "${customer}"`);
  const shipTo = parseAddress(expectOk(userResult, 'user').body);
  const cart = parseCart(expectOk(cartResult, 'carts').body);
  if (cart.items.length === 0) throw new DemoError(400, 'the cart is empty');

  const paymentResult = expectOk(
    await call('payment', 'POST', '/paymentAuth', { amount: cart.total, customer }),
    'payment',
  );
  const p = asObject(paymentResult.body, 'the payment answer', 502);
  if (typeof p['authorised'] !== 'boolean' || typeof p['message'] !== 'string') {
    throw new DemoError(502, 'payment answered a malformed decision');
  }
  const paid = p['authorised'];
  // Only a paid order empties the cart: a declined shopper can change it and try again.
  if (paid) expectOk(await call('carts', 'DELETE', `/carts/${cartId}`), 'carts');
  return {
    id: deps.newId(),
    customer,
    cart: cartId,
    shipTo,
    items: cart.items,
    total: cart.total,
    payment: { authorised: paid, message: p['message'] },
    status: paid ? 'paid' : 'declined',
    createdAt: deps.now().toISOString(),
  };
}

function parseAddress(value: unknown): Customer['address'] {
  const a = asObject(asObject(value, 'the customer', 502)['address'], 'the address', 502);
  const field = (k: string): string => {
    const v = a[k];
    if (typeof v !== 'string') throw new DemoError(502, `user answered an address without ${k}`);
    return v;
  };
  return {
    street: field('street'),
    city: field('city'),
    postcode: field('postcode'),
    country: field('country'),
  };
}
