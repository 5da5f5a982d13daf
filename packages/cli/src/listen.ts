import { chmod, rm, stat } from 'node:fs/promises';
import type { Server } from 'node:http';

/** Starts an HTTP server on `host:port`. */
export function listen(server: Server, address: string): Promise<Server> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Starts an HTTP server on a Unix socket with `mode` (a stale socket file is replaced). */
export async function listenUnix(server: Server, path: string, mode: number): Promise<Server> {
  try {
    if ((await stat(path)).isSocket()) await rm(path);
  } catch {
    // No stale socket.
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, mode);
  return server;
}
