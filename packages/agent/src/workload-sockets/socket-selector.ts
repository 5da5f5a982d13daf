import {
  PARLEY_SELECTOR_TYPE,
  SOCKET_SELECTOR_PREFIX as SOCKET_PREFIX,
  type Selector,
  parseSocketName,
} from '@parley/core';
import type { CallerResult } from '../workload-api/workload-api-deps.js';

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
