// How the benchmark's Check server processes start: bind 127.0.0.1, announce the port on stdout as
// one JSON line (check-bench.ts reads it) and stop on SIGTERM.
import type { Server, ServerCredentials } from '@grpc/grpc-js';

/** Binds `server` on 127.0.0.1:`port` (0: any), prints {"port": N} and shuts down on SIGTERM. */
export async function listenCheckServer(
  server: Server,
  port: string | undefined,
  credentials: ServerCredentials,
): Promise<void> {
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port ?? '0'}`, credentials, (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  process.once('SIGTERM', () => {
    server.forceShutdown();
    process.exit(0);
  });
  process.stdout.write(JSON.stringify({ port: bound }) + '\n');
}
