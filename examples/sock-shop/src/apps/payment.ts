// Payment: authorizes amounts up to a limit and declines above it. A decline is an answer
// (200, `authorised: false`), not an error.
import { DemoError, asObject, json } from '../http/mesh-http.js';
import type { Handler } from '../http/mesh-http.js';

/** The payment decision. */
export interface Authorisation {
  readonly authorised: boolean;
  readonly message: string;
}

/** The limit when `PAYMENT_LIMIT` is not set, in euros. */
export const DEFAULT_PAYMENT_LIMIT = 100;

/** Parses `PAYMENT_LIMIT` (euros, default 100). */
export function parsePaymentLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PAYMENT_LIMIT;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`PAYMENT_LIMIT must be a non-negative number, got "${raw}"`);
  }
  return n;
}

/** Decides whether `amount` may be charged under `limit`. */
export function authorise(amount: number, limit: number): Authorisation {
  return amount <= limit
    ? { authorised: true, message: 'Payment authorised' }
    : { authorised: false, message: `Payment declined: amount exceeds ${limit.toFixed(2)}` };
}

/** The payment service: `POST /paymentAuth {amount}` → `{authorised, message}`. */
export function payment(deps: { readonly limit: number }): Handler {
  return async (req) => {
    if (req.path !== '/paymentAuth') throw new DemoError(404, `no route for ${req.path}`);
    if (req.method !== 'POST') throw new DemoError(405, `${req.method} is not allowed here`);
    const amount = asObject(req.body, 'the payment request')['amount'];
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      throw new DemoError(400, 'amount must be a positive number');
    }
    return json(200, authorise(amount, deps.limit));
  };
}
