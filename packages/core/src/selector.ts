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

/** The selector type reserved for Parley: only the agent adds `parley:*` selectors to a caller. */
export const PARLEY_SELECTOR_TYPE = 'parley';

/** The value prefix of a per-workload socket selector (`parley:socket:<name>`). */
export const SOCKET_SELECTOR_PREFIX = 'socket:';

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

/**
 * Checks a selector an entry asks for: a `parley:*` selector must be `parley:socket:<name>` with a
 * valid socket name (the only one the agent ever adds), so a typo is refused when the entry is
 * created rather than matching nothing.
 */
export function checkEntrySelector(s: Selector): Selector {
  checkSelector(s);
  if (s.type === PARLEY_SELECTOR_TYPE) {
    if (!s.value.startsWith(SOCKET_SELECTOR_PREFIX)) {
      throw invalidArgument(
        `selector type "parley" is reserved: only parley:socket:<name> is allowed`,
      );
    }
    parseSocketName(s.value.slice(SOCKET_SELECTOR_PREFIX.length));
  }
  return s;
}
