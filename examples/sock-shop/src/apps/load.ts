// The traffic generator behind `parley up --load`: shoppers browse the catalogue, add socks to
// their carts and place orders through the front-end, forever, at a fixed request rate.

/** One request to the front-end as the generator sees it. */
export type ShopRequest = (
  method: string,
  path: string,
  cart: string,
  body?: unknown,
) => Promise<{ readonly status: number; readonly body: unknown }>;

/** What the generator needs from its process. */
export interface LoadDeps {
  readonly request: ShopRequest;
  /** Requests per second. */
  readonly rate: number;
  /** How often a summary line is logged, in milliseconds. */
  readonly summaryEveryMs: number;
  readonly log: (line: Readonly<Record<string, unknown>>) => void;
  readonly now: () => Date;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/** Counters of one summary window. */
export interface LoadWindow {
  requests: number;
  failed: number;
  skipped: number;
  paid: number;
  declined: number;
  status: Record<string, number>;
  catalogue: Record<string, number>;
}

const SHOPPERS = 20;
const CUSTOMERS = ['alice', 'bob', 'carol'] as const;
/** A shopper's cycle: browse, add, browse, add, order. */
const CYCLE = ['browse', 'add', 'browse', 'add', 'order'] as const;

/** Parses `RATE` (requests per second, default 5). */
export function parseRate(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 5;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 10_000) {
    throw new Error(`RATE must be a number of requests per second from 0 to 10000, got "${raw}"`);
  }
  return n;
}

function emptyWindow(): LoadWindow {
  return { requests: 0, failed: 0, skipped: 0, paid: 0, declined: 0, status: {}, catalogue: {} };
}

/** Runs until `signal` aborts, then logs a last summary and resolves. */
export async function runLoad(deps: LoadDeps, signal: AbortSignal): Promise<void> {
  const shoppers = Array.from({ length: SHOPPERS }, (_, i) => ({
    cart: `load-${i}`,
    step: 0,
    busy: false,
    socks: [] as string[],
  }));
  let window = emptyWindow();
  let next = 0;
  const inFlight = new Set<Promise<void>>();

  const summary = (final: boolean): void => {
    deps.log({ time: deps.now().toISOString(), service: 'load', msg: 'summary', final, ...window });
    window = emptyWindow();
  };

  async function step(s: (typeof shoppers)[number]): Promise<void> {
    const kind = CYCLE[s.step % CYCLE.length] ?? 'browse';
    s.step += 1;
    const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(deps.random() * xs.length)];
    let r: { status: number; body: unknown };
    try {
      switch (kind) {
        case 'browse': {
          r = await deps.request('GET', '/api/catalogue', s.cart);
          const body = r.body as { version?: unknown; socks?: { id?: unknown }[] };
          if (typeof body.version === 'string') {
            window.catalogue[body.version] = (window.catalogue[body.version] ?? 0) + 1;
          }
          const ids = (body.socks ?? []).flatMap((x) => (typeof x.id === 'string' ? [x.id] : []));
          if (ids.length > 0) s.socks = ids;
          break;
        }
        case 'add':
          r = await deps.request('POST', '/api/cart', s.cart, {
            id: pick(s.socks) ?? 'classic',
            qty: 1 + Math.floor(deps.random() * 2),
          });
          break;
        case 'order':
          r = await deps.request('POST', '/api/orders', s.cart, { customer: pick(CUSTOMERS) });
          if (r.status === 201) window.paid += 1;
          if (r.status === 402) {
            window.declined += 1;
            // Start afresh rather than retry a cart that will be declined again.
            await deps.request('DELETE', '/api/cart', s.cart);
          }
          break;
      }
    } catch {
      r = { status: 0, body: undefined };
    }
    window.requests += 1;
    window.status[String(r.status)] = (window.status[String(r.status)] ?? 0) + 1;
    // A declined order is an expected answer; an empty cart (a lost add) is not counted twice.
    if (r.status === 0 || (r.status >= 400 && r.status !== 402)) window.failed += 1;
  }

  const tick = (): void => {
    const s = shoppers[next % SHOPPERS];
    next += 1;
    if (s === undefined || s.busy) {
      window.skipped += 1;
      return;
    }
    s.busy = true;
    const p = step(s).finally(() => {
      s.busy = false;
      inFlight.delete(p);
    });
    inFlight.add(p);
  };

  const ticker = setInterval(tick, 1000 / deps.rate);
  const reporter = setInterval(() => summary(false), deps.summaryEveryMs);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(ticker);
  clearInterval(reporter);
  await Promise.allSettled([...inFlight]);
  summary(true);
}
