import { get } from 'node:http';
import { connect } from 'node:net';

const PROBE_TIMEOUT_MS = 1000;

/** True when GET `url` answers 200 within a second (false on any error): a readiness probe. */
export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** True when something accepts connections on the Unix socket `path`. */
export function unixSocketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when the process `pid` exists (signal 0 reaches it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
