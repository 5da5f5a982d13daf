// The `parley/request` RBAC policies: deny, before any policy, every request whose path or host
// `normalizePath`/`normalizeHost` refuse but Envoy lets through after its own normalization
// (`normalize_path`, `merge_slashes`, `path_with_escaped_slashes_action: REJECT_REQUEST`).
// Envoy 1.40 itself answers 400 for controls, spaces, non-ASCII, fragments, `%00` and escaped
// slashes or backslashes; it escapes `"<>^`{|}` and turns `\` into `/`; it passes `;`, `[`, `]`
// and malformed escapes through, and forwards any `:authority` of visible ASCII.
import type { ProtoObject } from '@parley/api';
import {
  type Cel,
  celAnd,
  celCall,
  celExpr,
  celIdent,
  celInt,
  celOr,
  celSelect,
  celSizeOver,
  celString,
} from './rbac-cel.js';

/** The longest path `normalizePath` accepts (query excluded). */
const MAX_PATH = 8192;
/** The longest host name `normalizeHost` accepts (trailing dot and port excluded). */
const MAX_HOST_NAME = 253;

/**
 * What `normalizePath` accepts, as Envoy's `url_path` (query stripped) shows it: "/" then RFC 3986
 * path characters and well-formed escapes other than `%00`, `%2F` and `%5C`.
 */
export const PATH_ACCEPTED =
  "/(?:[A-Za-z0-9!$&'()*+,=:@/._~-]|%(?:0[1-9A-Fa-f]|[1346-9A-Fa-f][0-9A-Fa-f]|2[0-9A-Ea-e]|5[0-9ABD-Fabd-f]))*";

/**
 * The shape `normalizeHost` accepts: a name of letters, digits, `_`, `.` and `-` that starts and
 * ends with a letter, digit or `_`, then at most one dot, or a bracketed IPv6 literal; then
 * optionally a port of one to five digits (its range is checked by HOST_BAD_PORT).
 */
export const HOST_ACCEPTED =
  '[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\\.?(?::[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](?::[0-9]{1,5})?';

/** A host whose port (at most five digits, after the shape check) is 0 or above 65535. */
export const HOST_BAD_PORT =
  '.*:(?:0+|6553[6-9]|655[4-9][0-9]|65[6-9][0-9]{2}|6[6-9][0-9]{3}|[7-9][0-9]{4})';

const regex = (r: string) => ({ safe_regex: { regex: r } });
const ANY = [{ any: true }];

/** A host name of more than 253 characters (not counting one trailing dot and the port). */
function hostNameTooLong(): Cel {
  const host = celSelect(celIdent('request'), 'host');
  const matches = (re: string) => celCall('matches', [celString(re)], host);
  const atLeast = (n: number) => celCall('_>=_', [celCall('size', [host]), celInt(n)]);
  const terms: Cel[] = [];
  for (let digits = 0; digits <= 5; digits++) {
    const port = digits === 0 ? '' : `:[0-9]{${digits}}`;
    const q = digits === 0 ? 0 : digits + 1;
    // Longer than the limit even when its last character is a dot that does not count.
    terms.push(celAnd(matches(`^[^:]*${port}$`), atLeast(MAX_HOST_NAME + 2 + q)));
    terms.push(celAnd(matches(`^[^:]*[^:.]${port}$`), atLeast(MAX_HOST_NAME + 1 + q)));
  }
  return celAnd(celSizeOver(host, MAX_HOST_NAME), celOr(...terms));
}

/** The RBAC policies (DENY) of the `parley/request` filter, by name. */
export function requestRefusalPolicies(): Record<string, ProtoObject> {
  return {
    'parley/request/path': {
      permissions: [{ not_rule: { url_path: { path: regex(PATH_ACCEPTED) } } }],
      principals: ANY,
    },
    'parley/request/path-length': {
      permissions: ANY,
      principals: ANY,
      condition: celExpr(celSizeOver(celSelect(celIdent('request'), 'url_path'), MAX_PATH)),
    },
    'parley/request/host': {
      permissions: [
        { not_rule: { header: { name: ':authority', string_match: regex(HOST_ACCEPTED) } } },
      ],
      principals: ANY,
    },
    'parley/request/host-port': {
      permissions: [{ header: { name: ':authority', string_match: regex(HOST_BAD_PORT) } }],
      principals: ANY,
    },
    'parley/request/host-length': {
      permissions: ANY,
      principals: ANY,
      condition: celExpr(hostNameTooLong()),
    },
  };
}
