// Carts: one cart per shopper id, stored as a JSON value in carts-db (key `cart:<id>`).
import { DemoError, asObject, expectOk, json } from '../http/mesh-http.js';
import type { Call, Handler } from '../http/mesh-http.js';

/** One line of a cart. */
export interface CartItem {
  readonly itemId: string;
  readonly name: string;
  /** In euros, two decimals. */
  readonly unitPrice: number;
  readonly qty: number;
}

/** A cart as carts answers it. */
export interface Cart {
  readonly id: string;
  readonly items: readonly CartItem[];
  /** Sum of unitPrice × qty, in euros, rounded to cents. */
  readonly total: number;
}

/** The shape of a cart id (the front-end's session id, or a customer id). */
export const CART_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The most of one sock a cart holds. */
export const MAX_QTY = 99;

/** The total of `items` in euros, summed in cents so it does not drift. */
export function totalOf(items: readonly CartItem[]): number {
  return items.reduce((cents, i) => cents + Math.round(i.unitPrice * 100) * i.qty, 0) / 100;
}

/** Parses one cart line (from a request or from carts-db); throws a 400 naming the bad field. */
export function parseCartItem(value: unknown): CartItem {
  const o = asObject(value, 'a cart item');
  const { itemId, name, unitPrice, qty } = o;
  if (typeof itemId !== 'string' || itemId === '') throw bad('itemId must be a non-empty string');
  if (typeof name !== 'string') throw bad('name must be a string');
  if (typeof unitPrice !== 'number' || !Number.isFinite(unitPrice) || unitPrice < 0) {
    throw bad('unitPrice must be a non-negative number');
  }
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > MAX_QTY) {
    throw bad(`qty must be an integer from 1 to ${MAX_QTY}`);
  }
  return { itemId, name, unitPrice, qty };
}

/** Parses a cart as carts answers it (used by its callers). */
export function parseCart(value: unknown): Cart {
  const o = asObject(value, 'a cart', 502);
  if (typeof o['id'] !== 'string' || !Array.isArray(o['items'])) {
    throw new DemoError(502, 'carts answered a malformed cart');
  }
  try {
    const items = o['items'].map(parseCartItem);
    return { id: o['id'], items, total: totalOf(items) };
  } catch (e) {
    throw new DemoError(502, 'carts answered a malformed cart', { cause: e });
  }
}

function bad(message: string): DemoError {
  return new DemoError(400, message);
}

/** The carts service: `GET /carts/<id>`, `POST /carts/<id>/items`, `DELETE /carts/<id>`. */
export function carts(): Handler {
  return async (req, call) => {
    const m = /^\/carts\/([^/]+)(\/items)?$/.exec(req.path);
    if (m === null) throw new DemoError(404, `no route for ${req.path}`);
    const id = m[1] ?? '';
    if (!CART_ID.test(id)) throw bad(`cart id must match ${String(CART_ID)}`);
    const key = `/kv/cart:${id}`;
    const route = `${req.method} ${m[2] === undefined ? 'cart' : 'items'}`;
    switch (route) {
      case 'GET cart':
        return json(200, await load(call, id, key));
      case 'DELETE cart':
        expectOk(await call('carts-db', 'DELETE', key), 'carts-db');
        return { status: 204, headers: {}, body: '' };
      case 'POST items': {
        const item = parseCartItem(req.body);
        const cart = await load(call, id, key);
        const existing = cart.items.find((i) => i.itemId === item.itemId);
        const qty = item.qty + (existing?.qty ?? 0);
        if (qty > MAX_QTY) throw bad(`a cart holds at most ${MAX_QTY} of one sock`);
        const items = existing
          ? cart.items.map((i) => (i === existing ? { ...item, qty } : i))
          : [...cart.items, item];
        expectOk(await call('carts-db', 'PUT', key, items), 'carts-db');
        return json(200, { id, items, total: totalOf(items) });
      }
      default:
        throw new DemoError(405, `${req.method} is not allowed here`);
    }
  };
}

async function load(call: Call, id: string, key: string): Promise<Cart> {
  const r = await call('carts-db', 'GET', key);
  if (r.status === 404) return { id, items: [], total: 0 };
  expectOk(r, 'carts-db');
  if (!Array.isArray(r.body)) throw new DemoError(502, 'carts-db answered a malformed cart');
  const items = r.body.map(parseCartItem);
  return { id, items, total: totalOf(items) };
}
