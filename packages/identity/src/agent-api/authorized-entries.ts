import { type Selector, type SpiffeId, formatSelector } from '@parley/core';
import type { RegistrationEntry } from '../entries/registration-entry.js';

/** Bounds the walk through nested entries (SPIRE nests agent → alias → workload → …). */
export const MAX_ENTRY_DEPTH = 16;

/** What the walk needs from the store (consumer-owned). */
export interface EntryLookup {
  /** Entries whose parent is any of `parentIds`. */
  entriesByParents(parentIds: readonly SpiffeId[]): Promise<readonly RegistrationEntry[]>;
}

/**
 * The entries an agent is authorized for: those parented to the agent itself or to a node alias
 * that matches it (an entry parented to the server whose selectors are all among the agent's node
 * selectors), and, recursively, every entry parented to one of those entries' SPIFFE IDs.
 * Expired entries are skipped.
 */
export async function authorizedEntries(
  lookup: EntryLookup,
  agent: { readonly id: SpiffeId; readonly selectors: readonly Selector[] },
  serverId: SpiffeId,
  now: number,
): Promise<RegistrationEntry[]> {
  const nodeSelectors = new Set(agent.selectors.map(formatSelector));
  const live = (e: RegistrationEntry) => e.expiresAt === undefined || e.expiresAt > now;
  const aliases = (await lookup.entriesByParents([serverId])).filter(
    (e) => live(e) && e.selectors.every((s) => nodeSelectors.has(formatSelector(s))),
  );
  const found = new Map<string, RegistrationEntry>(aliases.map((e) => [e.id, e]));
  const visited = new Set<string>([
    agent.id.toString(),
    ...aliases.map((e) => e.spiffeId.toString()),
  ]);
  let frontier: SpiffeId[] = [agent.id, ...aliases.map((e) => e.spiffeId)];
  for (let depth = 0; depth < MAX_ENTRY_DEPTH && frontier.length > 0; depth++) {
    const children = (await lookup.entriesByParents(frontier)).filter(
      (e) => live(e) && !found.has(e.id),
    );
    frontier = [];
    for (const e of children) {
      found.set(e.id, e);
      const id = e.spiffeId.toString();
      if (!visited.has(id)) {
        visited.add(id);
        frontier.push(e.spiffeId);
      }
    }
  }
  return [...found.values()];
}
