import { createServer } from 'node:net';

/** Binds `port` on 127.0.0.1 (0: any) and releases it; resolves the port, or undefined if taken. */
function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback port for one listener: `preferred` when free, else any free one (`taken` says so). */
export interface PickedPort {
  readonly port: number;
  /** True when `preferred` was in use and another port was picked. */
  readonly taken: boolean;
}

/**
 * Picks loopback ports: the preferred one when it is free, else a free one the OS assigns; never
 * the same port twice in one run (a port picked earlier is not yet bound by its listener).
 */
export class PortPicker {
  readonly #used = new Set<number>();

  /** `preferred` when free and unused in this run, else any free port. */
  async pick(preferred?: number): Promise<PickedPort> {
    if (preferred !== undefined && !this.#used.has(preferred)) {
      const bound = await tryBind(preferred);
      if (bound !== undefined) {
        this.#used.add(bound);
        return { port: bound, taken: false };
      }
    }
    for (let i = 0; i < 100; i++) {
      const bound = await tryBind(0);
      if (bound !== undefined && !this.#used.has(bound)) {
        this.#used.add(bound);
        return { port: bound, taken: preferred !== undefined };
      }
    }
    throw new Error('no free loopback port found');
  }

  /** Any free port (no preference). */
  async any(): Promise<number> {
    return (await this.pick()).port;
  }
}
