import { ParleyError } from '@parley/core';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

/** The kernel's record of who connected to a Unix socket (SO_PEERCRED, taken at connect()). */
export interface PeerCred {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** The native functions of `native/peercred.c`; each throws an Error with a numeric `errno`. */
export interface PeercredAddon {
  /** The peer's pid/uid/gid of the connected Unix socket `fd`. */
  getPeerCred(fd: number): PeerCred;
  /** A pidfd on the very process that connected (SO_PEERPIDFD, Linux ≥ 6.5). */
  peerPidfd(fd: number): number;
  /** A pidfd on the process that has `pid` now (pidfd_open, Linux ≥ 5.3). */
  pidfdOpen(pid: number): number;
  /** False once the pidfd's process has exited. */
  pidfdIsAlive(pidfd: number): boolean;
  /** Closes a descriptor the addon returned. */
  closeFd(fd: number): void;
}

/** Where node-gyp leaves the addon (`npm ci` builds it; see packages/agent/native/build.mjs). */
const ADDON_PATH = '../../native/build/Release/peercred.node';

let loaded: PeercredAddon | undefined;

/** Loads the peer-credentials addon once, failing with how to build it when it is missing. */
export function peercredAddon(): PeercredAddon {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)(ADDON_PATH) as PeercredAddon;
    } catch (cause) {
      throw new ParleyError(
        'failed-precondition',
        'the peer-credentials addon (packages/agent/native) is not built: run `npm ci`, or ' +
          '`node packages/agent/native/build.mjs` (needs a C compiler and make)',
        { cause },
      );
    }
  }
  return loaded;
}

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** The errno name (`ESRCH`, `ENOPROTOOPT`, …) of an error thrown by the addon, if it has one. */
export function addonErrno(error: unknown): string | undefined {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? ERRNO_NAMES.get(errno) : undefined;
}
