import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The real peers Parley's tests run against, each installed by a script in `scripts/`. */
export type PeerName =
  | 'envoy'
  | 'python'
  | 'go-spiffe-oracle'
  | 'go-oauth2-client'
  | 'spire-server'
  | 'spire-agent'
  | 'postgres';

/** The repository's root: the nearest ancestor whose package.json declares workspaces. */
export const repoRoot: string = (() => {
  let dir = import.meta.dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
      if (parsed.workspaces !== undefined) return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found above ' + import.meta.dirname);
    dir = parent;
  }
})();

/** The cache dir the install scripts build peers into (`PARLEY_CACHE`, default ~/.cache/parley). */
export const cacheDir: string = process.env['PARLEY_CACHE'] ?? join(homedir(), '.cache', 'parley');

const SPIRE_VERSION = 'v1.13.3';

interface PeerLocation {
  readonly path: () => string | undefined;
  readonly script: string;
}

function fileIf(path: string): string | undefined {
  return existsSync(path) ? path : undefined;
}

/** The newest Debian PostgreSQL server bin dir, e.g. /usr/lib/postgresql/15/bin. */
function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

const PEERS: Record<PeerName, PeerLocation> = {
  envoy: {
    path: () => fileIf(join(repoRoot, '.venv', 'bin', 'envoy')),
    script: 'scripts/install-python-peers.sh',
  },
  python: {
    path: () => fileIf(join(repoRoot, '.venv', 'bin', 'python')),
    script: 'scripts/install-python-peers.sh',
  },
  'go-spiffe-oracle': {
    path: () => fileIf(join(cacheDir, 'bin', 'go-spiffe-oracle')),
    script: 'scripts/install-go-oracle.sh',
  },
  'go-oauth2-client': {
    path: () => fileIf(join(cacheDir, 'bin', 'go-oauth2-client')),
    script: 'scripts/install-oauth-peers.sh',
  },
  'spire-server': {
    path: () => fileIf(join(cacheDir, `spire-${SPIRE_VERSION}`, 'bin', 'spire-server')),
    script: 'scripts/install-spire.sh',
  },
  'spire-agent': {
    path: () => fileIf(join(cacheDir, `spire-${SPIRE_VERSION}`, 'bin', 'spire-agent')),
    script: 'scripts/install-spire.sh',
  },
  postgres: { path: postgresBinDir, script: 'scripts/install-postgres.sh' },
};

/** Thrown when a test needs a peer that is not installed; names the script that installs it. */
export class MissingPeerError extends Error {
  constructor(
    readonly peer: PeerName,
    readonly script: string,
  ) {
    super(`test peer '${peer}' is not installed: run ${script} (or scripts/install-peers.sh)`);
    this.name = 'MissingPeerError';
  }
}

/**
 * The path of an installed peer: a binary, or for `postgres` the server's bin dir.
 * Throws MissingPeerError naming the install script when it is missing.
 */
export function findPeer(name: PeerName): string {
  const peer = PEERS[name];
  const path = peer.path();
  if (path === undefined) throw new MissingPeerError(name, peer.script);
  return path;
}
