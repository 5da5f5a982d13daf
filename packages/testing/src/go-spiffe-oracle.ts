import { spawn } from 'node:child_process';
import { findPeer } from './peers.js';
import type { OracleCase } from './vectors/materialize.js';

/** go-spiffe's judgement of one case (e2e/peers/go-spiffe-oracle/README.md). */
export interface OracleVerdict {
  readonly id: string;
  readonly valid?: boolean;
  readonly unsupported?: boolean;
  readonly error?: string;
  readonly result?: Record<string, unknown>;
}

/** Runs the go-spiffe oracle's `check` over the cases and returns its verdicts by case id. */
export async function runGoSpiffeOracle(
  cases: readonly OracleCase[],
): Promise<Map<string, OracleVerdict>> {
  const bin = findPeer('go-spiffe-oracle');
  const { stdout, code, stderr } = await runWithInput(
    bin,
    ['check'],
    cases.map((c) => JSON.stringify(c)).join('\n') + '\n',
  );
  if (code !== 0)
    throw new Error(`go-spiffe-oracle check exited ${code}: ${stderr.slice(0, 2000)}`);
  const verdicts = new Map<string, OracleVerdict>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const v = JSON.parse(line) as OracleVerdict;
    verdicts.set(v.id, v);
  }
  return verdicts;
}

/** Runs a command with `input` on stdin; resolves with its output and exit code. */
export function runWithInput(
  cmd: string,
  args: readonly string[],
  input: string,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code,
      }),
    );
    child.stdin.end(input);
  });
}
