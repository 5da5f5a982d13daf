import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@parley/testing';

/** The built `parley` entry point. */
export const PARLEY = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** What a finished command printed, and its exit code. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion within `timeoutMs`; never rejects. */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, [...args], {
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 30_000,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(err),
    };
  }
}

/** Runs `parley …` to completion. */
export function parley(
  args: readonly string[],
  timeoutMs = 30_000,
  cwd?: string,
): Promise<RunResult> {
  return runProgram(process.execPath, [PARLEY, ...args], {
    timeoutMs,
    ...(cwd === undefined ? {} : { cwd }),
  });
}

/** `parley status -o json` as the test reads it (DESIGN §4). */
export interface UpStatus {
  readonly trustDomain: string;
  readonly agentSpiffeId: string;
  readonly adminSocket: string;
  readonly agentSocket: string;
  readonly xdsAddress: string;
  readonly metricsUrl: string;
  readonly secretsUrl: string;
  readonly tokensUrl: string;
  readonly components: readonly {
    name: string;
    state: string;
    pid: number | null;
    restarts: number;
    log: string;
  }[];
  readonly services: readonly {
    name: string;
    spiffeId: string;
    app?: string;
    inbound?: string;
    envoyAdmin: string;
    socket: string;
    url?: string;
  }[];
}

/** `parley status -o json --dir dir`; throws with its stderr when it fails. */
export async function upStatus(dir: string): Promise<UpStatus> {
  const r = await parley(['status', '--dir', dir, '-o', 'json']);
  if (r.code !== 0) throw new Error(`parley status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as UpStatus;
}

/** True when `pid` is a live process. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every `*.sock` file under `dir`, recursively. */
export async function socketsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await socketsUnder(full)));
    else if (e.name.endsWith('.sock') || e.isSocket()) out.push(full);
  }
  return out;
}

/** An HTTP JSON call through the front-end; `cart` names the shopper's cart cookie. */
export async function shop(
  base: string,
  method: string,
  path: string,
  cart: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      cookie: `cart=${cart}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Places one order (first sock, alice): browse → cart → order; returns the order's HTTP status. */
export async function placeOrder(
  base: string,
  cart: string,
): Promise<{ status: number; order: unknown }> {
  const catalogue = await shop(base, 'GET', '/api/catalogue', cart);
  if (catalogue.status !== 200) return { status: catalogue.status, order: catalogue.json };
  const socks = (catalogue.json as { socks: { id: string; price: number }[] }).socks;
  // A sock under the payment limit, so the order is paid.
  const sock = socks.find((s) => s.price < 50) ?? socks[0];
  if (sock === undefined) throw new Error('the catalogue is empty');
  const added = await shop(base, 'POST', '/api/cart', cart, { id: sock.id, qty: 1 });
  if (added.status !== 200) return { status: added.status, order: added.json };
  const order = await shop(base, 'POST', '/api/orders', cart, { customer: 'alice' });
  return { status: order.status, order: order.json };
}

/** The value of Envoy stat `name` from its admin `/stats` text (0 when absent). */
export function stat(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}: `));
  return line === undefined ? 0 : Number(line.slice(name.length + 2));
}

/** The marker before the README's walkthrough block. */
export const MARKER = '<!-- readme-test: up-walkthrough -->';

/** The shell block that follows the marker in README.md. */
export function walkthroughOf(readme: string): string {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no ${MARKER} block`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (match?.[1] === undefined) throw new Error(`no \`\`\`sh block after ${MARKER}`);
  return match[1];
}
