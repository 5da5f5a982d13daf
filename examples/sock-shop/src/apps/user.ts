// User: a few fixed customers and their addresses.
import { DemoError, json } from '../http/mesh-http.js';
import type { Handler } from '../http/mesh-http.js';

/** A customer and where orders are shipped. */
export interface Customer {
  readonly id: string;
  readonly name: string;
  readonly address: {
    readonly street: string;
    readonly city: string;
    readonly postcode: string;
    readonly country: string;
  };
}

/** The demo's customers. */
export const CUSTOMERS: readonly Customer[] = [
  {
    id: 'alice',
    name: 'Alice Liddell',
    address: { street: '1 Rabbit Hole', city: 'Oxford', postcode: 'OX1 1AA', country: 'UK' },
  },
  {
    id: 'bob',
    name: 'Bob Marley',
    address: { street: '56 Hope Road', city: 'Kingston', postcode: 'KGN6', country: 'Jamaica' },
  },
  {
    id: 'carol',
    name: 'Carol Danvers',
    address: { street: '8 Hala Street', city: 'Boston', postcode: '02108', country: 'USA' },
  },
];

/** The user service: `GET /customers`, `GET /customers/<id>`. */
export function user(): Handler {
  return async (req) => {
    if (req.method !== 'GET') throw new DemoError(405, `${req.method} is not allowed here`);
    if (req.path === '/customers') return json(200, { customers: CUSTOMERS });
    const m = /^\/customers\/([^/]+)$/.exec(req.path);
    if (m === null) throw new DemoError(404, `no route for ${req.path}`);
    const customer = CUSTOMERS.find((c) => c.id === m[1]);
    if (customer === undefined) throw new DemoError(404, `no customer "${m[1]}"`);
    return json(200, customer);
  };
}
