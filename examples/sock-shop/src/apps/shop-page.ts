// The front-end's HTML: the socks, the cart and the order form, server-rendered with plain forms.
import type { Cart } from './carts.js';
import type { Sock } from './catalogue.js';
import type { Order } from './orders.js';

/** What the shop page shows; a part that could not be fetched carries the reason instead. */
export interface ShopView {
  readonly catalogue: { readonly version: string; readonly socks: readonly Sock[] } | string;
  readonly cart: Cart | string;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const euros = (n: number): string => `€${n.toFixed(2)}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
.socks{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:1rem}
.card{border:1px solid #ccc;border-radius:.5rem;padding:1rem}
.badge{background:#e33;color:#fff;border-radius:.3rem;padding:0 .3rem;font-size:.8rem}
.price{font-weight:bold} .error{color:#b00} table{border-collapse:collapse}
td,th{padding:.2rem .6rem;text-align:left}
</style></head><body>${body}</body></html>`;
}

/** The shop: socks with add-to-cart forms, the cart, and the order form. */
export function renderShop(view: ShopView): string {
  const socks =
    typeof view.catalogue === 'string'
      ? `<p class="error">The catalogue is unavailable: ${escapeHtml(view.catalogue)}</p>`
      : `<p>Catalogue <code>${escapeHtml(view.catalogue.version)}</code></p>
<div class="socks">${view.catalogue.socks.map(card).join('')}</div>`;
  let cart: string;
  if (typeof view.cart === 'string') {
    cart = `<p class="error">The cart is unavailable: ${escapeHtml(view.cart)}</p>`;
  } else if (view.cart.items.length === 0) {
    cart = '<p>Your cart is empty.</p>';
  } else {
    cart = `<table><tr><th>Sock</th><th>Qty</th><th>Price</th></tr>${view.cart.items
      .map(
        (i) =>
          `<tr><td>${escapeHtml(i.name)}</td><td>${i.qty}</td><td>${euros(i.unitPrice * i.qty)}</td></tr>`,
      )
      .join('')}<tr><th>Total</th><td></td><th>${euros(view.cart.total)}</th></tr></table>
<form method="post" action="/order"><label>Customer
<input name="customer" value="alice" required pattern="[a-z0-9-]+"></label>
<button>Place order</button> <small>(demo customers: alice, bob, carol)</small></form>
<form method="post" action="/cart/clear"><button>Empty the cart</button></form>`;
  }
  return layout('Sock Shop', `<h1>Sock Shop</h1><h2>Socks</h2>${socks}<h2>Cart</h2>${cart}`);
}

function card(s: Sock): string {
  const badge = s.badge === undefined ? '' : ` <span class="badge">${escapeHtml(s.badge)}</span>`;
  return `<div class="card"><h3>${escapeHtml(s.name)}${badge}</h3>
<p>${escapeHtml(s.description)}</p><p class="price">${euros(s.price)}</p>
<form method="post" action="/cart"><input type="hidden" name="id" value="${escapeHtml(s.id)}">
<input name="qty" type="number" value="1" min="1" max="99" size="3"> <button>Add to cart</button>
</form></div>`;
}

/** The page after an order: its confirmation, or why it failed. */
export function renderOrderResult(result: Order | string): string {
  const body =
    typeof result === 'string'
      ? `<h1>Order failed</h1><p class="error">${escapeHtml(result)}</p>`
      : `<h1>${result.status === 'paid' ? 'Thank you!' : 'Payment declined'}</h1>
<p>Order <code>${escapeHtml(result.id)}</code> for ${escapeHtml(result.customer)}:
${euros(result.total)}. ${escapeHtml(result.payment.message)}.</p>
<p>Ship to: ${escapeHtml(Object.values(result.shipTo).join(', '))}</p>`;
  return layout('Sock Shop: order', `${body}<p><a href="/">Back to the shop</a></p>`);
}
