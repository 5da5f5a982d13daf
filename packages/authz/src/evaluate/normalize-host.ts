/** A normalized `Host`: lower-case name (or IP literal) and the port, unless a default one. */
export type NormalizedHost =
  | { readonly ok: true; readonly name: string; readonly port?: number }
  | { readonly ok: false; readonly reason: string };

const NAME = /^[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?$/;

/**
 * Normalizes a `Host`/`:authority` value for matching: lower-cases it, drops one trailing dot and
 * a default port (80, 443); refuses user info, empty names, bad ports and stray characters.
 */
export function normalizeHost(raw: string): NormalizedHost {
  const text = raw.toLowerCase();
  let name: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (v6 !== null) {
    name = `[${v6[1] ?? ''}]`;
    portText = v6[2];
  } else {
    const m = /^([^:]*)(?::(\d{1,5}))?$/.exec(text);
    if (m === null) return { ok: false, reason: 'the host is not name[:port]' };
    name = (m[1] ?? '').replace(/\.$/, '');
    portText = m[2];
    if (!NAME.test(name)) return { ok: false, reason: 'the host name has invalid characters' };
  }
  if (portText === undefined) return { ok: true, name };
  const port = Number(portText);
  if (!(port >= 1 && port <= 65535)) return { ok: false, reason: 'the host port is not 1-65535' };
  return port === 80 || port === 443 ? { ok: true, name } : { ok: true, name, port };
}
