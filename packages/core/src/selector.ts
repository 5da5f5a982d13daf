import { invalidArgument } from './errors.js';

/**
 * A selector: what an attestor observed about a node or workload, SPIRE's `type:value` pair,
 * e.g. `unix:uid:1000` is type `unix`, value `uid:1000`.
 */
export interface Selector {
  readonly type: string;
  readonly value: string;
}

/** Longest selector value accepted. */
export const MAX_SELECTOR_VALUE_LENGTH = 1024;

const SELECTOR_TYPE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Parses `type:value` (the first colon separates them), as the CLI's `--selector` takes it. */
export function parseSelector(text: string): Selector {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw invalidArgument(`invalid selector "${text.slice(0, 64)}": expected type:value`);
  }
  return checkSelector({ type: text.slice(0, colon), value: text.slice(colon + 1) });
}

/** Checks a selector: a type without `:` from a small alphabet and a non-empty bounded value. */
export function checkSelector(s: Selector): Selector {
  if (!SELECTOR_TYPE.test(s.type)) {
    throw invalidArgument(
      `invalid selector type "${s.type.slice(0, 64)}": 1-64 of letters, digits, '.', '-', '_' (no ':')`,
    );
  }
  if (s.value.length === 0) throw invalidArgument(`selector ${s.type} has an empty value`);
  if (s.value.length > MAX_SELECTOR_VALUE_LENGTH) {
    throw invalidArgument(
      `selector ${s.type} value exceeds ${MAX_SELECTOR_VALUE_LENGTH} characters`,
    );
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is being rejected
  if (/[\u0000-\u001f\u007f]/.test(s.value))
    throw invalidArgument(`selector ${s.type} value has control characters`);
  return { type: s.type, value: s.value };
}

/** Formats a selector as `type:value`. */
export function formatSelector(s: Selector): string {
  return `${s.type}:${s.value}`;
}
