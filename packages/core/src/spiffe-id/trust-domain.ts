import { invalidArgument } from '../errors.js';

/** SPIFFE-ID §2.3: a trust domain name is at most 255 bytes (the URI host limit). */
export const MAX_TRUST_DOMAIN_BYTES = 255;

/**
 * Checks a trust domain name (SPIFFE-ID §2.1): non-empty, at most 255 bytes, only
 * `[a-z0-9.-_]` — which excludes uppercase, percent-encoding, userinfo, ports and IPv6.
 * Returns the reason it is invalid, or undefined.
 */
export function trustDomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'trust domain is missing';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x2d ||
      c === 0x5f;
    if (!ok) {
      const ch = name[i];
      if (ch === ':') return 'trust domain cannot contain a port';
      if (ch === '@') return 'trust domain cannot contain userinfo';
      if (ch === '%') return 'trust domain cannot contain percent-encoded characters';
      if (ch === '[' || ch === ']') return 'trust domain cannot be an IPv6 address';
      if (c >= 0x41 && c <= 0x5a)
        return 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores (found uppercase)';
      return 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores';
    }
  }
  if (name.length > MAX_TRUST_DOMAIN_BYTES)
    return `trust domain exceeds ${MAX_TRUST_DOMAIN_BYTES} bytes`;
  return undefined;
}

let make: (name: string) => TrustDomain;

/**
 * Internal to core: a TrustDomain from a name already checked by `trustDomainProblem`.
 * Not exported from the package, so outside core only the parsers construct one.
 */
export function checkedTrustDomain(name: string): TrustDomain {
  return make(name);
}

/** A SPIFFE trust domain (SPIFFE-ID §2.1); only `parseTrustDomain` constructs one. */
export class TrustDomain {
  static {
    make = (name) => new TrustDomain(name);
  }

  private constructor(
    /** The trust domain name, e.g. `example.org`. */
    readonly name: string,
  ) {}

  /** The trust domain's SPIFFE ID, `spiffe://<name>`. */
  idString(): string {
    return `spiffe://${this.name}`;
  }

  /** True when both name the same trust domain. */
  equals(other: TrustDomain): boolean {
    return this.name === other.name;
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }
}

/**
 * Parses a trust domain name such as `example.org`. Rejects rather than normalizes: a
 * `spiffe://` URI, uppercase, ports and anything outside `[a-z0-9.-_]` are errors.
 */
export function parseTrustDomain(name: string): TrustDomain {
  if (name.startsWith('spiffe://')) {
    throw invalidArgument(
      `invalid trust domain: expected a name such as example.org, not a SPIFFE ID`,
    );
  }
  const problem = trustDomainProblem(name);
  if (problem !== undefined) throw invalidArgument(`invalid trust domain: ${problem}`);
  return checkedTrustDomain(name);
}
