import { ParleyError } from '@parley/core';
import { type PeercredAddon, addonErrno, peercredAddon } from './peercred-addon.js';

/**
 * Who is on the other end of one Unix-socket connection: the kernel's pid/uid/gid taken at
 * connect(), and whether that very process still runs.
 */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /**
   * True while the process that connected is running. Backed by a pidfd, so a true answer also
   * means `pid` has not been reused: whatever was read from `/proc/<pid>` before a true answer
   * described this process. False once it has exited, or once the connection has closed.
   */
  isAlive(): boolean;
}

/** Peer credentials together with the pidfd they own, released when the connection closes. */
export interface HeldPeerCredentials extends PeerCredentials {
  /** Closes the pidfd; `isAlive()` answers false from then on. Idempotent. */
  release(): void;
}

/** Reads the peer credentials of the connected Unix socket `fd` and opens a pidfd on the peer. */
export function readPeerCredentials(
  fd: number,
  addon: PeercredAddon = peercredAddon(),
): HeldPeerCredentials {
  let cred;
  try {
    cred = addon.getPeerCred(fd);
  } catch (cause) {
    throw new ParleyError('internal', 'cannot read the peer credentials of a Unix socket', {
      cause,
    });
  }
  // Never poll a closed descriptor: its number may already belong to another file.
  let pidfd = openPeerPidfd(addon, fd, cred.pid);
  return {
    pid: cred.pid,
    uid: cred.uid,
    gid: cred.gid,
    isAlive: () => pidfd >= 0 && addon.pidfdIsAlive(pidfd),
    release: () => {
      if (pidfd < 0) return;
      const fdToClose = pidfd;
      pidfd = -1;
      addon.closeFd(fdToClose);
    },
  };
}

/**
 * A pidfd on the peer, or -1 when the peer is already gone (or invisible: pid 0 from another pid
 * namespace). SO_PEERPIDFD names the connecting process itself; before Linux 6.5 pidfd_open(pid)
 * does, which leaves the window between connect() and this call open to pid reuse.
 */
function openPeerPidfd(addon: PeercredAddon, fd: number, pid: number): number {
  try {
    return addon.peerPidfd(fd);
  } catch (error) {
    switch (addonErrno(error)) {
      case 'EINVAL': // the peer has exited (pidfd_prepare refuses a pid without a task)
      case 'ESRCH':
        return -1;
      case 'ENOPROTOOPT': // kernel before 6.5
      case 'ENODATA':
        break;
      default:
        throw new ParleyError('internal', 'cannot open a pidfd on a Unix socket peer', {
          cause: error,
        });
    }
  }
  if (pid <= 0) return -1;
  try {
    return addon.pidfdOpen(pid);
  } catch (error) {
    if (addonErrno(error) === 'ESRCH') return -1;
    throw new ParleyError('internal', `cannot open a pidfd on process ${pid}`, { cause: error });
  }
}
