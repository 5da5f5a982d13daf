// End to end without sidecars: every service of demo.json runs as its own process (as `parley up`
// starts it), and each one's PARLEY_OUTBOUND is a tiny router standing in for its sidecar, which
// dispatches on the Host header and records who called whom.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const DIST = dirname(fileURLToPath(import.meta.url));
const MANIFEST = JSON.parse(readFileSync(join(DIST, '..', 'demo.json'), 'utf8')) as {
  services: { name: string; main: string; env?: Record<string, string> }[];
  load: { main: string };
};
const WAIT_MS = 8_000;

/** A child process and every JSON line it printed. */
interface Proc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line `match` accepts (rejects after WAIT_MS). */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function start(main: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [join(DIST, main)], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const w of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  return {
    child,
    lines,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(match);
        if (seen !== undefined) return resolve(seen);
        const timer = setTimeout(
          () =>
            reject(
              new Error(`${main}: no matching log line within ${WAIT_MS} ms; stderr: ${stderr}`),
            ),
          WAIT_MS,
        );
        waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      }),
  };
}

function stop(p: Proc): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (p.child.exitCode !== null) return resolve(p.child.exitCode);
    const timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`pid ${p.child.pid} did not exit within ${WAIT_MS} ms of SIGTERM`));
    }, WAIT_MS);
    p.child.once('exit', (code) => (clearTimeout(timer), resolve(code)));
    p.child.kill('SIGTERM');
  });
}

/** The stand-in for one service's sidecar: forwards by Host to the named service's port. */
function sidecar(
  caller: string,
  ports: Map<string, number>,
  edges: string[],
  ids: string[],
): Promise<Server> {
  const server = createServer((req, res) => {
    const host = (req.headers.host ?? '').split(':')[0] ?? '';
    edges.push(`${caller} -> ${host}`);
    if (typeof req.headers['x-request-id'] === 'string')
      ids.push(`${caller} -> ${host} ${req.headers['x-request-id']}`);
    const port = ports.get(host);
    if (port === undefined) {
      res.writeHead(503).end('no healthy upstream');
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(503).end('upstream connect error'));
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function http(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    redirect: 'manual',
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: isJson ? JSON.parse(text) : text,
  };
}

describe('sock shop, every service a process, sidecars stood in for by routers', () => {
  const ports = new Map<string, number>();
  const procs = new Map<string, Proc>();
  const routers: Server[] = [];
  const edges: string[] = [];
  const ids: string[] = [];
  const port = (name: string): number => ports.get(name) ?? assert.fail(`${name} has no port`);

  before(async () => {
    await Promise.all(
      MANIFEST.services.map(async (s) => {
        const router = await sidecar(s.name, ports, edges, ids);
        routers.push(router);
        const p = start(s.main, {
          PORT: '0',
          PARLEY_OUTBOUND: `127.0.0.1:${(router.address() as AddressInfo).port}`,
          SERVICE: s.name,
          INSTANCE: `${s.name}-0`,
          ...s.env,
        });
        procs.set(s.name, p);
        const listening = await p.waitFor((l) => l['msg'] === 'listening');
        ports.set(s.name, listening['port'] as number);
      }),
    );
  });

  after(async () => {
    await Promise.allSettled([...procs.values()].map(stop));
    for (const r of routers) r.close();
  });

  it('answers /health on every service', async () => {
    for (const s of MANIFEST.services) {
      assert.equal((await http(port(s.name), 'GET', '/health')).status, 200, s.name);
    }
  });

  it("places an order through the front-end JSON API, each hop through the caller's sidecar", async () => {
    const fe = port('front-end');
    const cookie = { cookie: 'cart=e2e-shopper' };
    const list = await http(fe, 'GET', '/api/catalogue', cookie);
    assert.equal(list.status, 200);
    const { version, socks } = list.body as {
      version: string;
      socks: { id: string; price: number }[];
    };
    assert.equal(version, 'v1');
    assert.ok(socks.some((s) => s.id === 'classic'));

    assert.equal(
      (await http(fe, 'POST', '/api/cart', cookie, { id: 'classic', qty: 2 })).status,
      200,
    );
    assert.equal(
      (await http(fe, 'POST', '/api/cart', cookie, { id: 'figueroa', qty: 1 })).status,
      200,
    );
    const cart = await http(fe, 'GET', '/api/cart', cookie);
    assert.deepEqual((cart.body as { total: number }).total, 38);

    const order = await http(
      fe,
      'POST',
      '/api/orders',
      { ...cookie, 'x-request-id': 'req-e2e-1' },
      {
        customer: 'alice',
      },
    );
    assert.equal(order.status, 201, JSON.stringify(order.body));
    const o = order.body as {
      status: string;
      total: number;
      payment: { authorised: boolean };
      shipTo: { city: string };
    };
    assert.equal(o.status, 'paid');
    assert.equal(o.total, 38);
    assert.equal(o.payment.authorised, true);
    assert.equal(o.shipTo.city, 'Oxford');
    assert.deepEqual((await http(fe, 'GET', '/api/cart', cookie)).body, {
      id: 'e2e-shopper',
      items: [],
      total: 0,
    });

    // The trace header went along every hop the order caused.
    for (const hop of [
      'front-end -> orders',
      'orders -> carts',
      'orders -> user',
      'orders -> payment',
      'carts -> carts-db',
    ]) {
      assert.ok(ids.includes(`${hop} req-e2e-1`), `${hop} carried x-request-id`);
    }
    // Each service logged the request as one JSON line.
    const logged = await procs
      .get('orders')!
      .waitFor((l) => l['path'] === '/orders' && l['status'] === 201);
    assert.equal(logged['requestId'], 'req-e2e-1');
    assert.equal(logged['instance'], 'orders-0');
  });

  it('declines an order above the payment limit and keeps the cart', async () => {
    const fe = port('front-end');
    const cookie = { cookie: 'cart=e2e-big-spender' };
    assert.equal((await http(fe, 'POST', '/api/cart', cookie, { id: 'holy', qty: 2 })).status, 200);
    const order = await http(fe, 'POST', '/api/orders', cookie, { customer: 'bob' });
    assert.equal(order.status, 402);
    assert.equal((order.body as { status: string }).status, 'declined');
    assert.equal(
      ((await http(fe, 'GET', '/api/cart', cookie)).body as { total: number }).total,
      199.98,
    );
  });

  it('serves the HTML shop and its forms', async () => {
    const fe = port('front-end');
    const page = await http(fe, 'GET', '/');
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']).split(';')[0] ?? '';
    assert.match(cookie, /^cart=[0-9a-f-]{36}$/);
    assert.match(String(page.body), /<h1>Sock Shop<\/h1>/);
    const add = await fetch(`http://127.0.0.1:${fe}/cart`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=classic&qty=1',
      redirect: 'manual',
    });
    assert.equal(add.status, 303);
    const done = await fetch(`http://127.0.0.1:${fe}/order`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'customer=carol',
    });
    assert.equal(done.status, 201);
    assert.match(await done.text(), /Thank you!/);
  });

  it('runs catalogue v2 from the same build with a visible difference', async () => {
    const v2 = await http(port('catalogue-v2'), 'GET', '/catalogue');
    assert.equal((v2.body as { version: string }).version, 'v2');
    assert.equal(v2.headers['x-catalogue-version'], 'v2');
    assert.ok((v2.body as { socks: { badge?: string }[] }).socks.some((s) => s.badge === 'new!'));
  });

  it('drives traffic with the load generator and stops it with a final summary', async () => {
    const load = start(MANIFEST.load.main, {
      TARGET: `http://127.0.0.1:${port('front-end')}`,
      RATE: '100',
      SUMMARY_EVERY: '0.5',
    });
    // Each shopper orders every fifth step: at 100/s the first orders come after about a second.
    await load.waitFor(
      (l) => l['msg'] === 'summary' && (l['paid'] as number) + (l['declined'] as number) > 0,
    );
    assert.equal(await stop(load), 0);
    const summaries = load.lines.filter((l) => l['msg'] === 'summary');
    assert.equal(summaries.at(-1)?.['final'], true);
    const total = (k: string): number => summaries.reduce((n, s) => n + (s[k] as number), 0);
    assert.equal(total('failed'), 0, JSON.stringify(summaries));
    assert.ok(total('paid') + total('declined') > 0, 'placed orders');
  });

  it('calls exactly the demo call graph', () => {
    assert.deepEqual([...new Set(edges)].sort(), [
      'carts -> carts-db',
      'front-end -> carts',
      'front-end -> catalogue',
      'front-end -> orders',
      'orders -> carts',
      'orders -> payment',
      'orders -> user',
    ]);
  });

  it('exits 0 on SIGTERM', async () => {
    for (const [name, p] of procs) assert.equal(await stop(p), 0, name);
  });
});
