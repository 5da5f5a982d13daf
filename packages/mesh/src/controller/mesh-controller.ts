import type { Clock } from '@parley/core';
import type { MeshSnapshot } from '../snapshot/mesh-snapshot.js';
import type { ConfigProblem, ControllerStatus } from '../status/mesh-status.js';

/** One commit's YAML files as the Git source read them. */
export interface ConfigFile {
  readonly path: string;
  readonly text: string;
}

/** A commit handed over by the source: its files, or why they could not be read. */
export type CommitCandidate =
  | { readonly ok: true; readonly commit: string; readonly files: readonly ConfigFile[] }
  | { readonly ok: false; readonly commit: string; readonly problems: readonly ConfigProblem[] };

/** The outcome of parsing, validating and compiling one commit. */
export type BuildResult =
  | { readonly ok: true; readonly snapshot: MeshSnapshot }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** The outcome of applying registered endpoints to a snapshot. */
export type EndpointsResult =
  | { readonly ok: true; readonly snapshot: MeshSnapshot }
  | { readonly ok: false; readonly reason: string };

/** What the controller needs (STYLE rule 5); the cli wires parseMeshConfig and compileMesh. */
export interface MeshControllerDeps<Endpoint> {
  /** Parses, validates and compiles one commit's files (pure). */
  readonly build: (files: readonly ConfigFile[], commit: string) => BuildResult;
  /**
   * A snapshot with the endpoints of the named services replaced by the registered ones (pure);
   * an unknown service is a failed outcome.
   */
  readonly withEndpoints?: (
    snapshot: MeshSnapshot,
    endpoints: ReadonlyMap<string, readonly Endpoint[]>,
  ) => EndpointsResult;
  readonly clock: Clock;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Holds the mesh snapshot served over ADS: each commit from the source is built and swapped in
 * atomically when good; a bad commit is recorded with its problems and the last good snapshot
 * stays. Endpoints registered at run time are layered over every snapshot.
 */
export class MeshController<Endpoint = unknown> {
  readonly #deps: MeshControllerDeps<Endpoint>;
  readonly #listeners = new Set<() => void>();
  readonly #endpoints = new Map<string, readonly Endpoint[]>();
  #current: MeshSnapshot | undefined;
  #status: ControllerStatus = { current: null, lastRejected: null, sourceError: null };

  constructor(deps: MeshControllerDeps<Endpoint>) {
    this.#deps = deps;
  }

  /** The snapshot being served, if any commit was good yet. */
  current(): MeshSnapshot | undefined {
    return this.#current;
  }

  /** Calls `listener` after every swap; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The controller's state for `meshStatus()`. */
  status(): ControllerStatus {
    return this.#status;
  }

  /** Builds a commit from the source and swaps it in if it is good; returns whether it was. */
  applyCommit(candidate: CommitCandidate): boolean {
    const built: BuildResult = candidate.ok
      ? this.#build(candidate.files, candidate.commit)
      : { ok: false, problems: candidate.problems };
    if (!built.ok) {
      this.#status = {
        ...this.#status,
        lastRejected: {
          commit: candidate.commit,
          problems: built.problems,
          at: this.#deps.clock.now(),
        },
        sourceError: null,
      };
      this.#deps.log?.('mesh commit rejected', {
        commit: candidate.commit,
        problems: built.problems.length,
      });
      return false;
    }
    let snapshot = built.snapshot;
    if (this.#endpoints.size > 0 && this.#deps.withEndpoints !== undefined) {
      const layered = this.#deps.withEndpoints(snapshot, this.#endpoints);
      if (layered.ok) snapshot = layered.snapshot;
      else
        this.#deps.log?.('registered endpoints not applied', {
          commit: candidate.commit,
          reason: layered.reason,
        });
    }
    this.#status = { ...this.#status, sourceError: null };
    this.#swap(snapshot);
    return true;
  }

  /**
   * Registers the endpoints of `service` (replacing earlier ones) and swaps in a snapshot with
   * them; they are kept for later commits too.
   */
  updateEndpoints(service: string, endpoints: readonly Endpoint[]): EndpointsResult {
    const withEndpoints = this.#deps.withEndpoints;
    if (withEndpoints === undefined)
      return { ok: false, reason: 'this controller takes no registered endpoints' };
    const current = this.#current;
    if (current === undefined)
      return { ok: false, reason: 'no mesh configuration has been applied yet' };
    const result = withEndpoints(current, new Map([[service, endpoints]]));
    if (!result.ok) return result;
    this.#endpoints.set(service, endpoints);
    this.#swap(result.snapshot);
    return result;
  }

  /** Records that the source could not be read (the served snapshot is unchanged). */
  sourceFailed(message: string): void {
    this.#status = { ...this.#status, sourceError: { message, at: this.#deps.clock.now() } };
  }

  #build(files: readonly ConfigFile[], commit: string): BuildResult {
    try {
      return this.#deps.build(files, commit);
    } catch (err) {
      // A throwing compiler is a bug; the commit is refused like a bad one, with the reason.
      this.#deps.log?.('mesh build failed', {
        commit,
        error: err instanceof Error ? err.message : String(err),
      });
      return {
        ok: false,
        problems: [{ file: '', line: 0, path: '', message: 'internal error while compiling' }],
      };
    }
  }

  #swap(snapshot: MeshSnapshot): void {
    this.#current = snapshot;
    this.#status = {
      ...this.#status,
      current: {
        version: snapshot.version,
        commit: snapshot.commit,
        appliedAt: this.#deps.clock.now(),
      },
    };
    for (const listener of this.#listeners) listener();
  }
}
