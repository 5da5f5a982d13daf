import { type Selector, invalidArgument } from '@parley/core';
import type { CallerResult } from '../workload-api/workload-api-deps.js';

/** The selector type reserved for the agent itself: only the agent adds `parley:*` selectors. */
export const PARLEY_SELECTOR_TYPE = 'parley';

/** The value prefix of a per-workload socket selector (`parley:socket:<name>`). */
const SOCKET_PREFIX = 'socket:';

/** A per-workload socket name: lowercase, digits and `-_.`, starting alphanumeric, ≤ 63 chars. */
const SOCKET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Parses a per-workload socket name (it becomes the file `<dir>/<name>.sock`). */
export function parseSocketName(text: string): string {
  if (!SOCKET_NAME.test(text)) {
    throw invalidArgument(
      `invalid workload socket name "${text.slice(0, 80)}": must match [a-z0-9][a-z0-9._-]{0,62}`,
    );
  }
  return text;
}

/** The selector every caller of the per-workload socket `name` carries. */
export function socketSelector(name: string): Selector {
  return { type: PARLEY_SELECTOR_TYPE, value: `${SOCKET_PREFIX}${parseSocketName(name)}` };
}

/**
 * The socket name a selector asks for: undefined when it is no `parley:socket:*` selector, an
 * error value when its name is invalid.
 */
export function socketNameOf(
  selector: Selector,
):
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly reason: string }
  | undefined {
  if (selector.type !== PARLEY_SELECTOR_TYPE || !selector.value.startsWith(SOCKET_PREFIX))
    return undefined;
  try {
    return { ok: true, name: parseSocketName(selector.value.slice(SOCKET_PREFIX.length)) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * The selectors of a caller on a socket: what its attestation found, minus any reserved
 * `parley:*` selector (no attestor may claim one), plus the socket's own selector when the call
 * came over a per-workload socket. A caller of the general socket never has a `parley:*` selector.
 */
export function callerOnSocket(attestation: CallerResult, socketName?: string): CallerResult {
  if (!attestation.ok) return attestation;
  const selectors = attestation.selectors.filter((s) => s.type !== PARLEY_SELECTOR_TYPE);
  if (socketName !== undefined) selectors.push(socketSelector(socketName));
  return { ok: true, selectors };
}
