/** A structured logger: one JSON line per event, with the component (DESIGN §8). */
export interface Log {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** A Log writing JSON lines to `write` for `component`; never pass secrets in fields. */
export function jsonLog(component: string, write: (line: string) => void, now: () => number): Log {
  const emit =
    (level: string) =>
    (message: string, fields: Readonly<Record<string, unknown>> = {}) => {
      const safe: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) safe[k] = v instanceof Error ? v.message : v;
      write(
        JSON.stringify({
          time: new Date(now()).toISOString(),
          level,
          component,
          message,
          ...safe,
        }) + '\n',
      );
    };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
