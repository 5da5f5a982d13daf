import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type TempDir, makeTempDir, repoRoot, waitFor } from '@parley/testing';
import {
  PARLEY,
  type UpStatus,
  alive,
  parley,
  runProgram,
  placeOrder,
  shop,
  socketsUnder,
  stat,
  upStatus,
  walkthroughOf,
} from './up-harness.js';

const git = promisify(execFile);

// Both scenarios use parley up's default ports (8080 …): they are in one file so they run in turn.

/** The services of the order flow and whom each calls (examples/sock-shop/README.md). */
const CALLS: Readonly<Record<string, readonly string[]>> = {
  edge: ['front-end'],
  'front-end': ['catalogue', 'carts', 'orders'],
  carts: ['carts-db'],
  orders: ['carts', 'user', 'payment'],
};

/** Share of catalogue answers served by v2 over `n` requests (20 in flight at a time). */
async function v2Share(base: string, n: number): Promise<number> {
  let v2 = 0;
  for (let done = 0; done < n; done += 20) {
    const batch = await Promise.all(
      Array.from({ length: 20 }, () => shop(base, 'GET', '/api/catalogue', 'canary')),
    );
    for (const r of batch) {
      assert.equal(r.status, 200);
      if ((r.json as { version: string }).version === 'v2') v2++;
    }
  }
  return v2 / n;
}

describe('parley up --detach with the Sock Shop demo', () => {
  let temp: TempDir;
  let dir: string;
  let status: UpStatus;
  let base: string;
  const pids = new Set<number>();
  const track = (s: UpStatus) => s.components.forEach((c) => c.pid !== null && pids.add(c.pid));

  before(async () => {
    temp = await makeTempDir('parley-up-');
    dir = join(temp.path, 'state');
    const started = performance.now();
    const up = await parley(['up', '--detach', '--dir', dir], 90_000);
    assert.equal(up.code, 0, `parley up --detach failed:\n${up.stdout}\n${up.stderr}`);
    assert.match(up.stdout, /Parley is up/);
    console.log(`parley up --detach: ready in ${Math.round(performance.now() - started)} ms`);
    status = await upStatus(dir);
    track(status);
    const url = status.services.find((s) => s.url !== undefined)?.url;
    assert.ok(url !== undefined, 'no service has a url (the edge)');
    base = url;
  });

  after(async () => {
    await parley(['down', '--dir', dir], 60_000);
    await temp.remove();
  });

  it('reports every component ready and the DESIGN §4 fields', () => {
    assert.equal(status.trustDomain, 'example.org');
    assert.equal(status.agentSpiffeId, 'spiffe://example.org/parley/agent/up');
    assert.equal(status.adminSocket, join(dir, 'admin.sock'));
    assert.equal(status.agentSocket, join(dir, 'agent.sock'));
    assert.match(status.xdsAddress, /^127\.0\.0\.1:\d+$/);
    assert.match(status.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.match(status.secretsUrl, /^https:\/\/localhost:\d+$/);
    assert.match(status.tokensUrl, /^https:\/\/localhost:\d+$/);
    for (const c of status.components) {
      assert.equal(c.state, 'ready', c.name);
      assert.ok(c.pid !== null && alive(c.pid), c.name);
      assert.equal(c.restarts, 0, c.name);
    }
    const names = status.services.map((s) => s.name).sort();
    assert.deepEqual(names, [
      'carts',
      'carts-db',
      'catalogue',
      'catalogue-v2',
      'edge',
      'front-end',
      'orders',
      'payment',
      'user',
    ]);
    for (const s of status.services) {
      assert.equal(s.spiffeId, `spiffe://example.org/sock-shop/${s.name}`);
      assert.equal(s.socket, join(dir, 'workloads', `${s.name}.sock`));
      assert.match(s.envoyAdmin, /^http:\/\/127\.0\.0\.1:\d+$/);
      if (s.name === 'edge') {
        assert.match(s.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      } else {
        assert.equal(s.url, undefined);
        assert.match(s.app ?? '', /^127\.0\.0\.1:\d+$/);
        assert.match(s.inbound ?? '', /^127\.0\.0\.1:\d+$/);
      }
    }
  });

  it('serves the OAuth metadata at tokensUrl, whose issuer is exactly tokensUrl', async () => {
    const bundle = await parley(['bundle', 'show', '-o', 'pem', '--socket', status.adminSocket]);
    assert.equal(bundle.code, 0, bundle.stderr);
    const metadata = await new Promise<{ issuer: string; jwks_uri: string }>((resolve, reject) =>
      httpsGet(
        `${status.tokensUrl}/.well-known/oauth-authorization-server`,
        { ca: bundle.stdout },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(JSON.parse(text) as { issuer: string; jwks_uri: string }));
        },
      ).on('error', reject),
    );
    assert.equal(metadata.issuer, status.tokensUrl);
    assert.equal(metadata.jwks_uri, `${status.tokensUrl}/oauth2/jwks`);
  });

  it('places an order through the front-end URL, every hop through Envoy with mTLS', async () => {
    const { status: code, order } = await placeOrder(base, 'e2e-1');
    assert.equal(code, 201, JSON.stringify(order));
    assert.equal((order as { status: string }).status, 'paid');

    for (const [caller, callees] of Object.entries(CALLS)) {
      const service = status.services.find((s) => s.name === caller);
      assert.ok(service !== undefined, caller);
      const stats = await (await fetch(`${service.envoyAdmin}/stats`)).text();
      for (const callee of callees) {
        const cluster = callee === 'catalogue' ? ['catalogue', 'catalogue-v2'] : [callee];
        const handshakes = cluster.reduce(
          (n, c) => n + stat(stats, `cluster.${c}.ssl.handshake`),
          0,
        );
        assert.ok(handshakes > 0, `${caller} → ${callee}: no TLS handshake`);
      }
      // No plaintext upstream: only the sidecar's own app (loopback) and the agent socket are.
      const dump = JSON.parse(
        await (
          await fetch(`${service.envoyAdmin}/config_dump?resource=dynamic_active_clusters`)
        ).text(),
      ) as { configs: { cluster: { name: string; transport_socket?: { name: string } } }[] };
      for (const { cluster } of dump.configs) {
        if (cluster.name === 'inbound_app') continue;
        assert.equal(
          cluster.transport_socket?.name,
          'envoy.transport_sockets.tls',
          `${caller}: cluster ${cluster.name}`,
        );
      }
    }
    // Every service that was called accepted the call on its mTLS inbound listener.
    for (const callee of ['front-end', 'carts', 'carts-db', 'orders', 'user', 'payment']) {
      const service = status.services.find((s) => s.name === callee);
      assert.ok(service?.inbound !== undefined, callee);
      const stats = await (await fetch(`${service.envoyAdmin}/stats`)).text();
      const listener = `listener.${service.inbound.replace(':', '_')}`;
      assert.ok(
        stat(stats, `${listener}.ssl.handshake`) > 0,
        `${callee}: no mTLS handshake inbound`,
      );
    }
    // The catalogue call reached v1 or v2 through its inbound listener too.
    const catalogue = await Promise.all(
      status.services
        .filter((s) => s.name.startsWith('catalogue'))
        .map(async (s) =>
          stat(
            await (await fetch(`${s.envoyAdmin}/stats`)).text(),
            `listener.${(s.inbound ?? '').replace(':', '_')}.ssl.handshake`,
          ),
        ),
    );
    assert.ok(
      catalogue.some((n) => n > 0),
      'catalogue: no mTLS handshake inbound',
    );
  });

  it('applies a commit of the mesh repository changing the canary to 50/50 within seconds', async () => {
    const before = await v2Share(base, 100);
    assert.ok(before < 0.3, `v2 share before the commit: ${before}`);
    const repo = join(dir, 'mesh');
    const file = join(repo, 'routes', 'catalogue.yaml');
    const text = await readFile(file, 'utf8');
    const changed = text.replace(/weight: 90/, 'weight: 50').replace(/weight: 10/, 'weight: 50');
    assert.notEqual(changed, text, 'the canary weights were not found');
    await writeFile(file, changed);
    await git('git', ['-C', repo, 'commit', '-qam', 'catalogue canary 50/50'], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'e2e',
        GIT_AUTHOR_EMAIL: 'e2e@parley.invalid',
        GIT_COMMITTER_NAME: 'e2e',
        GIT_COMMITTER_EMAIL: 'e2e@parley.invalid',
      },
    });
    const committed = performance.now();
    let share = 0;
    await waitFor(
      'a 50/50 catalogue split',
      async () => {
        share = await v2Share(base, 200);
        return share > 0.35 && share < 0.65;
      },
      20_000,
    );
    console.log(
      `canary 50/50 live ${Math.round(performance.now() - committed)} ms after the commit (v2 share ${share})`,
    );
  });

  it('restarts a killed Envoy sidecar and the order flow works again', async () => {
    const victim = status.components.find((c) => c.name === 'orders.envoy');
    assert.ok(victim?.pid != null, 'orders.envoy has no pid');
    process.kill(victim.pid, 'SIGKILL');
    let now: UpStatus | undefined;
    await waitFor(
      'orders.envoy restarted and ready',
      async () => {
        now = await upStatus(dir);
        const c = now.components.find((x) => x.name === 'orders.envoy');
        return c !== undefined && c.restarts >= 1 && c.state === 'ready' && c.pid !== victim.pid;
      },
      20_000,
    );
    assert.ok(now !== undefined);
    track(now);
    await waitFor(
      'an order through the restarted sidecar',
      async () =>
        (await placeOrder(base, `e2e-${Math.random()}`).catch(() => ({ status: 0 }))).status ===
        201,
      20_000,
    );
  });

  it('parley down leaves no process, no socket and no state file', async () => {
    track(await upStatus(dir));
    const supervisor = JSON.parse(await readFile(join(dir, 'up.json'), 'utf8')) as {
      supervisorPid: number;
    };
    pids.add(supervisor.supervisorPid);
    const down = await parley(['down', '--dir', dir], 60_000);
    assert.equal(down.code, 0, down.stderr);
    const left = [...pids].filter(alive);
    assert.deepEqual(left, [], `processes left: ${left.join(', ')}`);
    assert.deepEqual(await socketsUnder(dir), []);
    await assert.rejects(access(join(dir, 'up.json')));
    const status = await parley(['status', '--dir', dir]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /no parley up is running/);
  });
});

describe('the README walkthrough', () => {
  let temp: TempDir | undefined;
  after(async () => {
    if (temp === undefined) return;
    await parley(['down', '--dir', join(temp.path, '.parley')], 60_000);
    await temp.remove();
  });

  it('runs exactly as written: parley up, the shop, a 50/50 canary commit, stop', async () => {
    const block = walkthroughOf(await readFile(join(repoRoot, 'README.md'), 'utf8'));
    assert.match(block, /^\.\/scripts\/quickstart\.sh$/m);
    temp = await makeTempDir('parley-readme-');
    // A checkout-like cwd: ./scripts/quickstart.sh runs the real script, whose state dir is here.
    await mkdir(join(temp.path, 'scripts'));
    const wrapper = join(temp.path, 'scripts', 'quickstart.sh');
    await writeFile(
      wrapper,
      `#!/usr/bin/env bash\nexec ${join(repoRoot, 'scripts', 'quickstart.sh')} "$@"\n`,
    );
    await chmod(wrapper, 0o755);
    const script = [
      'set -euo pipefail',
      // `npx parley` is the checkout's CLI (the README runs from the checkout).
      `npx() { if [ "$1" = parley ]; then shift; node ${PARLEY} "$@"; else command npx "$@"; fi; }`,
      block,
    ].join('\n');
    const started = performance.now();
    const r = await runProgram('bash', ['-c', script], {
      cwd: temp.path,
      env: { PARLEY_SKIP_INSTALL: '1', PARLEY_UP_DIR: join(temp.path, '.parley') },
      timeoutMs: 85_000,
    });
    console.log(`README walkthrough: ${Math.round(performance.now() - started)} ms`);
    assert.equal(r.code, 0, `the walkthrough failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Parley is up/);
    assert.match(r.stdout, /"socks"/);
    const v2 = /(\d+) "version":"v2"/.exec(r.stdout);
    assert.ok(
      v2?.[1] !== undefined && Number(v2[1]) >= 10,
      `the 50/50 canary is not visible:\n${r.stdout}`,
    );
    // Deny by default: the DENY on /admin paths answers 403, logged with its policy and rule;
    // `authz check` explains why the front-end may not call payment.
    assert.match(r.stdout, /RBAC: access denied 403/);
    assert.match(r.stdout, /no-admin\/rule-0/);
    assert.match(r.stdout, /decision:\s+deny/);
    assert.match(r.stdout, /stopped parley up/);
    assert.deepEqual(await socketsUnder(join(temp.path, '.parley')), []);
    await assert.rejects(access(join(temp.path, '.parley', 'up.json')));
  });
});
