import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Selector } from '@parley/core';
import { socketNameOf } from './socket-selector.js';

/** The entries the agent holds and their changes (satisfied by the agent's SVID cache). */
export interface WorkloadSocketEntries {
  readonly entries: ReadonlyMap<string, { readonly selectors: readonly Selector[] }>;
  subscribe(listener: () => void): () => void;
}

/** A socket being served; closing ends its calls and removes its file. */
export interface ServedSocket {
  close(): Promise<void>;
}

/** Where per-workload sockets report what they do. */
export interface WorkloadSocketsLog {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The neighbours of the per-workload sockets, wired by the agent's composition root. */
export interface WorkloadSocketsDeps {
  /** The directory holding `<name>.sock`; created (0700) when missing. */
  readonly dir: string;
  readonly entries: WorkloadSocketEntries;
  /** Serves the Workload API and SDS for socket `name` at `path` (see `serveAgentSocket`). */
  serve(name: string, path: string): Promise<ServedSocket>;
  readonly log: WorkloadSocketsLog;
}

/**
 * The per-workload sockets of DESIGN §1: for every socket name that a selector
 * `parley:socket:<name>` of a held entry asks for, the agent serves `<dir>/<name>.sock`; sockets
 * open and close as entries come and go (after each sync). Entries sharing a name share the
 * socket. A name that cannot be served is logged and retried on the next change.
 */
export class WorkloadSockets {
  readonly #open = new Map<string, ServedSocket>();
  readonly #invalid = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #dirReady = false;

  constructor(private readonly deps: WorkloadSocketsDeps) {}

  /** The sockets served now, by name, as file paths. */
  get paths(): ReadonlyMap<string, string> {
    return new Map([...this.#open.keys()].map((name) => [name, this.#path(name)]));
  }

  /**
   * Opens and closes sockets to match the held entries now (e.g. before the agent reports ready);
   * calls are serialized. `run` does this on every change.
   */
  reconcile(): Promise<void> {
    const next = this.#queue.then(async () => {
      if (!this.#dirReady) {
        await mkdir(this.deps.dir, { recursive: true, mode: 0o700 });
        this.#dirReady = true;
      }
      await this.#reconcile();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Serves the sockets until `signal` aborts, then closes them all. */
  async run(signal: AbortSignal): Promise<void> {
    let dirty = true;
    let wake: (() => void) | undefined;
    const unsubscribe = this.deps.entries.subscribe(() => {
      dirty = true;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (dirty) {
          dirty = false;
          await this.reconcile();
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      unsubscribe();
      await this.#queue;
      const open = [...this.#open.entries()];
      this.#open.clear();
      await Promise.all(open.map(([name, socket]) => this.#close(name, socket)));
    }
  }

  /** The socket names the held entries ask for. */
  #wanted(): Set<string> {
    const names = new Set<string>();
    for (const [id, entry] of this.deps.entries.entries) {
      for (const selector of entry.selectors) {
        const parsed = socketNameOf(selector);
        if (parsed === undefined) continue;
        if (parsed.ok) names.add(parsed.name);
        else if (!this.#invalid.has(selector.value)) {
          this.#invalid.add(selector.value);
          this.deps.log.warn('workload socket not served: invalid name', {
            entryId: id,
            reason: parsed.reason,
          });
        }
      }
    }
    return names;
  }

  async #reconcile(): Promise<void> {
    const wanted = this.#wanted();
    const closing: Promise<void>[] = [];
    for (const [name, socket] of this.#open) {
      if (wanted.has(name)) continue;
      this.#open.delete(name);
      closing.push(this.#close(name, socket));
    }
    await Promise.all(closing);
    for (const name of wanted) {
      if (this.#open.has(name)) continue;
      const path = this.#path(name);
      try {
        this.#open.set(name, await this.deps.serve(name, path));
        this.deps.log.info('workload socket open', { name, socket: path });
      } catch (err) {
        this.deps.log.warn('workload socket could not be opened', { name, socket: path, err });
      }
    }
  }

  async #close(name: string, socket: ServedSocket): Promise<void> {
    try {
      await socket.close();
      this.deps.log.info('workload socket closed', { name });
    } catch (err) {
      this.deps.log.warn('workload socket did not close cleanly', { name, err });
    }
  }

  #path(name: string): string {
    return join(this.deps.dir, `${name}.sock`);
  }
}
