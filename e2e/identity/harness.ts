import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Daemon, repoRoot, startDaemon } from '@parley/testing';

/** The built `parley` entry point. */
export const PARLEY = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** Runs `parley …` to completion; resolves with its output and exit code (never rejects). */
export async function parley(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [PARLEY, ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

/** Starts `parley <args>` in the background (a Daemon of @parley/testing). */
export function startParley(args: readonly string[], env: Record<string, string> = {}): Daemon {
  return startDaemon(process.execPath, [PARLEY, ...args], { env });
}
