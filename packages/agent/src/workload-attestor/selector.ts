import { invalidArgument } from '@parley/core';

/** A selector: what an attestor observed, e.g. `unix:uid:1000` is type `unix`, value `uid:1000`. */
export interface Selector {
  readonly type: string;
  readonly value: string;
}

/** Parses SPIRE's `type:value` form (the first colon separates the type). */
export function parseSelector(text: string): Selector {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw invalidArgument(`invalid selector "${text.slice(0, 64)}": expected type:value`);
  }
  return { type: text.slice(0, colon), value: text.slice(colon + 1) };
}

/** Formats a selector as SPIRE writes it: `type:value`. */
export function formatSelector(selector: Selector): string {
  return `${selector.type}:${selector.value}`;
}
