import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type KeyObject, createPrivateKey } from 'node:crypto';
import { decodePem, encodePem } from '@parley/core';

/** What the agent keeps on disk so a restart needs no new attestation (join tokens are single-use). */
export interface AgentState {
  readonly certChain: readonly Uint8Array[];
  readonly key: KeyObject;
  /** The last bundle received (SPIFFE bundle JSON), to trust the server after a restart. */
  readonly bundleJson: string;
}

const SVID_FILE = 'agent-svid.pem';
const KEY_FILE = 'agent-key.pem';
const BUNDLE_FILE = 'bundle.json';

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** Saves the agent's SVID, key (0600) and bundle in `dir` (0700), each file replaced atomically. */
export async function saveAgentState(dir: string, state: AgentState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(
    join(dir, KEY_FILE),
    state.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    0o600,
  );
  await writeAtomic(
    join(dir, SVID_FILE),
    state.certChain.map((c) => encodePem('CERTIFICATE', c)).join(''),
    0o644,
  );
  await writeAtomic(join(dir, BUNDLE_FILE), state.bundleJson, 0o644);
}

/** Loads the saved state, or undefined when there is none. */
export async function loadAgentState(dir: string): Promise<AgentState | undefined> {
  try {
    const [svid, key, bundleJson] = await Promise.all([
      readFile(join(dir, SVID_FILE), 'utf8'),
      readFile(join(dir, KEY_FILE), 'utf8'),
      readFile(join(dir, BUNDLE_FILE), 'utf8'),
    ]);
    const certChain = decodePem(svid)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => b.der);
    return { certChain, key: createPrivateKey(key), bundleJson };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
