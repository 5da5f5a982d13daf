// The composition root shared by every demo entry file: environment in, handler served, SIGTERM
// and SIGINT close it and the process exits 0; a bad environment exits 1 with one line.
import { parseServiceEnv, serve } from './serve.js';
import type { LogLine, ServiceEnv } from './serve.js';
import type { Handler } from './mesh-http.js';

/** Runs the handler `make` builds from the environment as this process's service, until SIGTERM. */
export function runProcess(
  make: (env: ServiceEnv, vars: Readonly<Record<string, string | undefined>>) => Handler,
): void {
  const log = (line: LogLine): void => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const now = (): Date => new Date();
  let env: ServiceEnv;
  let handler: Handler;
  try {
    env = parseServiceEnv(process.env);
    handler = make(env, process.env);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  serve({ env, handler, log, now }).then(
    (running) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log({ time: now().toISOString(), service: env.service, msg: 'stopping', signal });
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    },
    (e: unknown) => {
      process.stderr.write(
        `${env.service}: cannot listen on 127.0.0.1:${env.port}: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      process.exit(1);
    },
  );
}
