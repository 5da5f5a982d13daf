import type { AuthzRequest } from '../model/policy.js';
import { parseIpBytes } from './match-patterns.js';

/**
 * One request as the compiled rules read it: the normalized host and path, and what is derived from
 * them and from the request (lower-case forms, the path key, header values, the parsed source
 * address), each computed on first use and then kept, so a decision allocates only what its rules
 * need.
 */
export class RequestContext {
  /** The caller's SPIFFE ID, absent for an unauthenticated caller. */
  readonly principal: string | undefined;
  /** The caller's trust domain, when the principal is a SPIFFE ID. */
  readonly trustDomain: string | undefined;
  /** The path without its trailing slash, when it has one (a trailing slash is insignificant). */
  readonly pathTrimmed: string | undefined;
  private lowerHostName: string | undefined;
  private keyOfPath: string | null | undefined;
  private lowerPath: string | undefined;
  private lowerPathTrimmed: string | undefined;
  private upperMethod: string | undefined;
  private sourceAddress: readonly number[] | null | undefined;
  private description: string | undefined;

  constructor(
    readonly req: AuthzRequest,
    /** The normalized host name (lower case) and port (absent when a default one). */
    readonly hostName: string,
    readonly hostPort: number | undefined,
    /** The normalized path. */
    readonly path: string,
  ) {
    this.principal = req.source.principal;
    this.trustDomain = this.principal === undefined ? undefined : trustDomainOf(this.principal);
    this.pathTrimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : undefined;
  }

  /** The first two segments of the lower-case path (`api/1` for `/api/1/items`), if it has two. */
  get pathKey(): string | undefined {
    if (this.keyOfPath === undefined) this.keyOfPath = pathKeyOf(this.pathLower) ?? null;
    return this.keyOfPath ?? undefined;
  }

  /** The host name in lower case (host patterns match case-insensitively). */
  get hostNameLower(): string {
    return (this.lowerHostName ??= this.hostName.toLowerCase());
  }

  /** The path in lower case (for `ignoreCase` operations). */
  get pathLower(): string {
    return (this.lowerPath ??= this.path.toLowerCase());
  }

  /** The trimmed path in lower case, when there is one. */
  get pathTrimmedLower(): string | undefined {
    if (this.pathTrimmed === undefined) return undefined;
    return (this.lowerPathTrimmed ??= this.pathTrimmed.toLowerCase());
  }

  /** The method in upper case (DENY and AUDIT rules compare methods case-insensitively). */
  get methodUpper(): string {
    return (this.upperMethod ??= this.req.request.method.toUpperCase());
  }

  /**
   * The values of the request headers whose lower-case name is `name`, in order (empty when
   * there are none): what a map of the headers by lower-case name would hold, without building it.
   */
  header(name: string): readonly string[] {
    const { headers } = this.req.request;
    let values: string[] | undefined;
    for (const key in headers) {
      if (!Object.hasOwn(headers, key) || !lowerCaseEquals(key, name)) continue;
      const value = headers[key] as string | readonly string[];
      values ??= [];
      if (typeof value === 'string') values.push(value);
      else values.push(...value);
    }
    return values ?? NONE;
  }

  /** The caller's address as bytes, when it is known and an IP address. */
  get address(): readonly number[] | undefined {
    if (this.sourceAddress === undefined) {
      const text = this.req.source.address;
      this.sourceAddress = (text === undefined ? undefined : parseIpBytes(text)) ?? null;
    }
    return this.sourceAddress ?? undefined;
  }

  /** `METHOD host[:port]/path`, as explanations name the request. */
  get describe(): string {
    const port = this.hostPort === undefined ? '' : `:${this.hostPort}`;
    return (this.description ??= `${this.req.request.method} ${this.hostName}${port}${this.path}`);
  }
}

const NONE: readonly string[] = [];

/** `key.toLowerCase() === name`, without a lower-case copy of `key` unless it is not ASCII. */
function lowerCaseEquals(key: string, name: string): boolean {
  const sameLength = key.length === name.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    // Lower-casing may change the length or yield ASCII (U+212A KELVIN SIGN → k) only from here.
    if (c >= 0x80) return key.toLowerCase() === name;
    if (!sameLength) continue;
    // Only the key is lower-cased: `X-Role` never equals a name `X-Role`.
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== name.charCodeAt(i)) return false;
  }
  return sameLength;
}

/** The trust domain of a SPIFFE ID (`spiffe://TD/…` or `spiffe://TD`), or undefined. */
export function trustDomainOf(spiffeId: string): string | undefined {
  // As /^spiffe:\/\/([^/]+)(\/|$)/, without a regex per request.
  if (!spiffeId.startsWith('spiffe://')) return undefined;
  const slash = spiffeId.indexOf('/', 9);
  const td = slash < 0 ? spiffeId.slice(9) : spiffeId.slice(9, slash);
  return td === '' ? undefined : td;
}

/**
 * The first two segments of a path, as the text between its first and third slash (`api/1` for
 * `/api/1/items`, `api/` for `/api/`); undefined for a path of fewer segments.
 */
export function pathKeyOf(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const second = path.indexOf('/', 1);
  if (second < 0) return undefined;
  const third = path.indexOf('/', second + 1);
  return third < 0 ? path.slice(1) : path.slice(1, third);
}
