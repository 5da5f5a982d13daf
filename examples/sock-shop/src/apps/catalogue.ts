// The catalogue: a fixed list of socks. v2 (the canary) marks new socks with a badge, and every
// answer says which version served it.
import { DemoError, json } from '../http/mesh-http.js';
import type { Handler } from '../http/mesh-http.js';

/** One sock on sale. */
export interface Sock {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** In euros, two decimals. */
  readonly price: number;
  readonly tags: readonly string[];
  /** Only in v2. */
  readonly badge?: string;
}

/** The catalogue versions the demo runs side by side. */
export type CatalogueVersion = 'v1' | 'v2';

const SOCKS: readonly Sock[] = [
  {
    id: 'holy',
    name: 'Holy',
    description: 'Socks fit for a Messiah.',
    price: 99.99,
    tags: ['action', 'magic'],
  },
  {
    id: 'crossed',
    name: 'Crossed',
    description: 'A mature sock, crossed, with an air of nonchalance.',
    price: 17.32,
    tags: ['blue', 'action', 'red', 'formal'],
  },
  {
    id: 'figueroa',
    name: 'Figueroa',
    description: 'Enough to make you sing.',
    price: 14,
    tags: ['green', 'formal', 'blue'],
  },
  {
    id: 'classic',
    name: 'Classic',
    description: 'Keep it simple.',
    price: 12,
    tags: ['brown', 'green'],
  },
  {
    id: 'colourful',
    name: 'Colourful',
    description: 'Proud of its colours.',
    price: 18,
    tags: ['brown', 'blue'],
  },
  {
    id: 'nerd-leg',
    name: 'Nerd leg',
    description: 'For the geek in you.',
    price: 7.99,
    tags: ['blue', 'skin'],
  },
  {
    id: 'superspork',
    name: 'SuperSport XL',
    description: 'Ready for action.',
    price: 15,
    tags: ['sport', 'formal', 'black'],
  },
  {
    id: 'cat-socks',
    name: 'Cat socks',
    description: 'Consider it a way to express yourself.',
    price: 15,
    tags: ['brown', 'formal', 'green'],
  },
];

/** Socks v2 presents as new. */
const NEW_IN_V2 = new Set(['nerd-leg', 'cat-socks']);

/** Parses `CATALOGUE_VERSION` (default v1). */
export function parseCatalogueVersion(raw: string | undefined): CatalogueVersion {
  if (raw === undefined || raw === '' || raw === 'v1') return 'v1';
  if (raw === 'v2') return 'v2';
  throw new Error(`CATALOGUE_VERSION must be v1 or v2, got "${raw}"`);
}

/** The socks as `version` presents them. */
export function socksOf(version: CatalogueVersion): readonly Sock[] {
  if (version === 'v1') return SOCKS;
  return SOCKS.map((s) => (NEW_IN_V2.has(s.id) ? { ...s, badge: 'new!' } : s));
}

/** The catalogue service: `GET /catalogue`, `GET /catalogue/<id>`. */
export function catalogue(deps: { readonly version: CatalogueVersion }): Handler {
  const socks = socksOf(deps.version);
  const headers = { 'x-catalogue-version': deps.version };
  return async (req) => {
    if (req.method !== 'GET') throw new DemoError(405, `${req.method} is not allowed here`);
    if (req.path === '/catalogue') return json(200, { version: deps.version, socks }, headers);
    const m = /^\/catalogue\/([^/]+)$/.exec(req.path);
    if (m === null) throw new DemoError(404, `no route for ${req.path}`);
    const sock = socks.find((s) => s.id === m[1]);
    if (sock === undefined) throw new DemoError(404, `no sock "${m[1]}"`);
    return json(200, { version: deps.version, sock }, headers);
  };
}
