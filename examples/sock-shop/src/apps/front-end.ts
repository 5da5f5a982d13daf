// The front-end: the shop's HTML page and forms, and a JSON API a test or the load generator can
// drive. It calls catalogue, carts and orders; the shopper's cart is named by the `cart` cookie
// (the page sets one), or `guest` when a client sends none.
import { parseCart } from './carts.js';
import type { Cart } from './carts.js';
import type { Sock } from './catalogue.js';
import type { Order } from './orders.js';
import { renderOrderResult, renderShop } from './shop-page.js';
import { DemoError, asObject, expectOk, html, json, seeOther } from '../http/mesh-http.js';
import type { Call, DemoRequest, Handler } from '../http/mesh-http.js';

/** The cart a request without a `cart` cookie uses. */
export const GUEST_CART = 'guest';

/** What the front-end needs besides the services it calls. */
export interface FrontEndDeps {
  /** A fresh cart id for a browser without one (`[A-Za-z0-9_-]`, at most 64). */
  readonly newId: () => string;
}

/** The front-end service. */
export function frontEnd(deps: FrontEndDeps): Handler {
  return async (req, call) => {
    const cart = cartOf(req);
    switch (`${req.method} ${req.path}`) {
      case 'GET /': {
        const cookie = cart === undefined ? deps.newId() : undefined;
        const cartId = cart ?? cookie ?? GUEST_CART;
        const [catalogue, cartView] = await Promise.all([
          orReason(getCatalogue(call)),
          orReason(getCart(call, cartId)),
        ]);
        return html(
          200,
          renderShop({ catalogue, cart: cartView }),
          cookie === undefined
            ? {}
            : { 'set-cookie': `cart=${cookie}; Path=/; HttpOnly; SameSite=Lax` },
        );
      }
      case 'POST /cart':
        await addToCart(call, cart ?? GUEST_CART, parseCartForm(req.body));
        return seeOther('/');
      case 'POST /cart/clear':
        await clearCart(call, cart ?? GUEST_CART);
        return seeOther('/');
      case 'POST /order': {
        const result = await placeOrder(call, cart ?? GUEST_CART, req.body);
        return html(result.status, renderOrderResult(result.order ?? result.error));
      }
      case 'GET /api/catalogue': {
        const r = expectOk(await call('catalogue', 'GET', '/catalogue'), 'catalogue');
        return json(200, r.body);
      }
      case 'GET /api/cart':
        return json(200, await getCart(call, cart ?? GUEST_CART));
      case 'POST /api/cart':
        return json(200, await addToCart(call, cart ?? GUEST_CART, parseCartRequest(req.body)));
      case 'DELETE /api/cart':
        await clearCart(call, cart ?? GUEST_CART);
        return json(200, { id: cart ?? GUEST_CART, items: [], total: 0 });
      case 'POST /api/orders': {
        const result = await placeOrder(call, cart ?? GUEST_CART, req.body);
        return json(result.status, result.order ?? { error: result.error });
      }
      default:
        throw new DemoError(404, `no route for ${req.method} ${req.path}`);
    }
  };
}

function cartOf(req: DemoRequest): string | undefined {
  for (const part of (req.headers['cookie'] ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === 'cart' && value !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(value)) return value;
  }
  return undefined;
}

async function orReason<T>(p: Promise<T>): Promise<T | string> {
  try {
    return await p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

async function getCatalogue(call: Call): Promise<{ version: string; socks: readonly Sock[] }> {
  const body = asObject(
    expectOk(await call('catalogue', 'GET', '/catalogue'), 'catalogue').body,
    'the catalogue',
    502,
  );
  if (typeof body['version'] !== 'string' || !Array.isArray(body['socks'])) {
    throw new DemoError(502, 'catalogue answered a malformed list');
  }
  return { version: body['version'], socks: body['socks'] as Sock[] };
}

async function getCart(call: Call, cartId: string): Promise<Cart> {
  return parseCart(expectOk(await call('carts', 'GET', `/carts/${cartId}`), 'carts').body);
}

async function clearCart(call: Call, cartId: string): Promise<void> {
  expectOk(await call('carts', 'DELETE', `/carts/${cartId}`), 'carts');
}

interface CartRequest {
  readonly id: string;
  readonly qty: number;
}

function parseCartRequest(body: unknown): CartRequest {
  const { id, qty = 1 } = asObject(body, 'the cart request');
  if (typeof id !== 'string' || id === '') throw new DemoError(400, 'id must be a sock id');
  if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > 99) {
    throw new DemoError(400, 'qty must be an integer from 1 to 99');
  }
  return { id, qty };
}

function parseCartForm(body: unknown): CartRequest {
  const { id, qty } = asObject(body, 'the cart form');
  return parseCartRequest({ id, qty: typeof qty === 'string' ? Number(qty) : qty });
}

async function addToCart(call: Call, cartId: string, request: CartRequest): Promise<Cart> {
  const found = await call('catalogue', 'GET', `/catalogue/${encodeURIComponent(request.id)}`);
  if (found.status === 404) throw new DemoError(404, `no sock "${request.id}"`);
  const sock = asObject(
    asObject(expectOk(found, 'catalogue').body, 'the catalogue answer', 502)['sock'],
    'the sock',
    502,
  );
  const added = await call('carts', 'POST', `/carts/${cartId}/items`, {
    itemId: request.id,
    name: sock['name'],
    unitPrice: sock['price'],
    qty: request.qty,
  });
  if (added.status === 400)
    throw new DemoError(400, errorOf(added.body) ?? 'carts refused the item');
  return parseCart(expectOk(added, 'carts').body);
}

/** An order outcome: 201 paid or 402 declined (with the order), or a 4xx with the reason. */
type OrderOutcome =
  | { readonly status: number; readonly order: Order; readonly error?: undefined }
  | { readonly status: number; readonly order?: undefined; readonly error: string };

async function placeOrder(call: Call, cartId: string, body: unknown): Promise<OrderOutcome> {
  const { customer } = asObject(body, 'the order request');
  if (typeof customer !== 'string') throw new DemoError(400, 'customer must be a customer id');
  const r = await call('orders', 'POST', '/orders', { customer, cart: cartId });
  if (r.status === 201 || r.status === 402) {
    return { status: r.status, order: asObject(r.body, 'the order', 502) as unknown as Order };
  }
  if (r.status >= 400 && r.status < 500) {
    return { status: r.status, error: errorOf(r.body) ?? `orders answered ${r.status}` };
  }
  throw new DemoError(502, `orders answered ${r.status}`);
}

function errorOf(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const e = body.error;
    if (typeof e === 'string') return e;
  }
  return undefined;
}
