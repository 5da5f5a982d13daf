import type { StatusObject } from '@grpc/grpc-js';
import { toGrpcStatus } from './grpc-status.js';
import type {
  Selector,
  WorkloadApiLog,
  WorkloadIdentityCache,
  WorkloadView,
} from './workload-api-deps.js';
import {
  type Composed,
  type StreamKind,
  type StreamMessages,
  composeStreamMessage,
} from './workload-responses.js';

/** One open stream, as the fan-out sees it. */
export interface StreamSubscriber<K extends StreamKind = StreamKind> {
  readonly kind: K;
  /** Sends a full-state message. */
  send(message: StreamMessages[K]): void;
  /** Ends the stream with `status`. */
  end(status: StatusObject): void;
}

/** A group's current view, or the status that ends the streams of its callers. */
export type ViewOutcome =
  | { readonly ok: true; readonly view: WorkloadView }
  | { readonly ok: false; readonly status: StatusObject };

interface KindState {
  /** Bumped whenever the composed message changes; streams remember the version they hold. */
  readonly version: number;
  readonly composed: Composed<unknown>;
  /** The view epoch the message was composed from. */
  readonly epoch: number;
}

interface Member {
  readonly subscriber: StreamSubscriber;
  sentVersion: number;
}

/** A view watcher (e.g. an SDS stream): told each new view epoch of its group. */
interface Watcher {
  readonly listener: (outcome: ViewOutcome) => void;
  seenEpoch: number;
}

/** The streams of callers with the same selector set: they share one view. */
interface Group {
  readonly key: string;
  readonly selectors: readonly Selector[];
  outcome: ViewOutcome | undefined;
  epoch: number;
  dirty: boolean;
  readonly members: Map<StreamKind, Set<Member>>;
  readonly states: Map<StreamKind, KindState>;
  readonly watchers: Set<Watcher>;
}

/** A canonical key for a selector set (order and duplicates do not matter). */
export function selectorKey(selectors: readonly Selector[]): string {
  const items = new Set(selectors.map((s) => JSON.stringify([s.type, s.value])));
  return [...items].sort().join('\n');
}

/**
 * Fans cache changes out to the open Workload API streams. Streams are grouped by selector set;
 * a change marks every group dirty and, once per event-loop turn, each group's view is computed
 * once and each stream kind's message composed once, then sent only to the streams that do not
 * hold that exact content yet. The fan-out subscribes to the cache while a stream is open.
 */
export class ViewFanOut {
  readonly #groups = new Map<string, Group>();
  #unsubscribe: (() => void) | undefined;
  #flushScheduled = false;

  constructor(
    private readonly cache: WorkloadIdentityCache,
    private readonly log: WorkloadApiLog,
  ) {}

  /** Registers a stream and sends it its first message (or ends it); returns its leave function. */
  join(selectors: readonly Selector[], subscriber: StreamSubscriber): () => void {
    const group = this.#group(selectors);
    const member: Member = { subscriber, sentVersion: 0 };
    let members = group.members.get(subscriber.kind);
    if (members === undefined) group.members.set(subscriber.kind, (members = new Set()));
    members.add(member);
    const joined = group;
    this.#refresh(joined, subscriber.kind);
    return () => this.#leave(joined, member);
  }

  /**
   * Registers a watcher of the caller's view: `listener` is called at once with the current view
   * and again, once per event-loop turn at most, whenever a cache change produced a new view (it
   * may be equal to the previous one). Returns the unwatch function.
   */
  watch(selectors: readonly Selector[], listener: (outcome: ViewOutcome) => void): () => void {
    const group = this.#group(selectors);
    const watcher: Watcher = { listener, seenEpoch: -1 };
    group.watchers.add(watcher);
    this.#notifyWatchers(group);
    return () => {
      if (group.watchers.delete(watcher)) this.#dropIfIdle(group);
    };
  }

  #group(selectors: readonly Selector[]): Group {
    this.#unsubscribe ??= this.cache.subscribe(() => this.#changed());
    const key = selectorKey(selectors);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = {
        key,
        selectors,
        outcome: undefined,
        epoch: 0,
        dirty: true,
        members: new Map(),
        states: new Map(),
        watchers: new Set(),
      };
      this.#groups.set(key, group);
    }
    return group;
  }

  #dropIfIdle(group: Group): void {
    if (group.members.size > 0 || group.watchers.size > 0) return;
    if (this.#groups.get(group.key) !== group) return;
    this.#groups.delete(group.key);
    if (this.#groups.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  #notifyWatchers(group: Group): void {
    if (group.watchers.size === 0) return;
    const outcome = this.#outcome(group);
    for (const watcher of [...group.watchers]) {
      if (watcher.seenEpoch === group.epoch || !group.watchers.has(watcher)) continue;
      watcher.seenEpoch = group.epoch;
      watcher.listener(outcome);
    }
  }

  /** The caller's current view, shared with its open streams when they hold an up-to-date one. */
  viewFor(selectors: readonly Selector[]): WorkloadView {
    const group = this.#groups.get(selectorKey(selectors));
    if (group !== undefined && !group.dirty && group.outcome?.ok === true)
      return group.outcome.view;
    return this.cache.viewFor(selectors);
  }

  #leave(group: Group, member: Member): void {
    const members = group.members.get(member.subscriber.kind);
    if (members === undefined || !members.delete(member)) return;
    if (members.size === 0) {
      group.members.delete(member.subscriber.kind);
      group.states.delete(member.subscriber.kind);
    }
    this.#dropIfIdle(group);
  }

  #changed(): void {
    for (const group of this.#groups.values()) group.dirty = true;
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      for (const group of [...this.#groups.values()]) {
        if (!group.dirty) continue;
        for (const kind of [...group.members.keys()]) this.#refresh(group, kind);
        this.#notifyWatchers(group);
      }
    });
  }

  #outcome(group: Group): ViewOutcome {
    if (group.dirty || group.outcome === undefined) {
      try {
        group.outcome = { ok: true, view: this.cache.viewFor(group.selectors) };
      } catch (err) {
        group.outcome = { ok: false, status: toGrpcStatus(err, this.log, 'view') };
      }
      group.dirty = false;
      group.epoch++;
    }
    return group.outcome;
  }

  /** Brings `kind`'s message of the group up to date and delivers it where it is not yet held. */
  #refresh(group: Group, kind: StreamKind): void {
    const outcome = this.#outcome(group);
    let state = group.states.get(kind);
    if (state === undefined || state.epoch !== group.epoch) {
      const composed: Composed<unknown> = outcome.ok
        ? composeStreamMessage(kind, outcome.view, this.log)
        : outcome;
      const previous = state;
      state =
        previous !== undefined &&
        previous.composed.ok &&
        composed.ok &&
        previous.composed.fingerprint === composed.fingerprint
          ? { ...previous, epoch: group.epoch }
          : { version: (previous?.version ?? 0) + 1, composed, epoch: group.epoch };
      group.states.set(kind, state);
    }
    const members = group.members.get(kind);
    if (members === undefined) return;
    const { composed, version } = state;
    for (const member of [...members]) {
      if (member.sentVersion === version) continue;
      member.sentVersion = version;
      if (composed.ok) {
        member.subscriber.send(composed.message as never);
      } else {
        this.#leave(group, member);
        member.subscriber.end(composed.status);
      }
    }
  }
}
