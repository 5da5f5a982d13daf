import { OAuthError } from './token-request.js';

/** A verified SPIFFE credential: the X509-SVID of the TLS connection or a JWT-SVID. */
export type SvidCheck =
  | { readonly ok: true; readonly spiffeId: string; readonly expiresAt: number }
  | { readonly ok: false; readonly reason: string };

/** What a request presented to say who its client is. */
export interface PresentedClient {
  /** The `Authorization` header, if any. */
  readonly authorization?: string;
  /** `client_id` in the body. */
  readonly clientId?: string;
  /** `client_assertion` in the body (its type was checked by the parser). */
  readonly assertion?: string;
  /** The TLS client certificate: verified as an X509-SVID, with its SHA-256 (base64url). */
  readonly certificate?: { readonly check: SvidCheck; readonly x5tS256: string };
}

/** An authenticated client: a workload, by its SPIFFE ID. */
export interface AuthenticatedClient {
  readonly clientId: string;
  readonly method: 'tls_client_auth' | 'private_key_jwt';
  /** Set for `tls_client_auth`: tokens issued are bound to this certificate (RFC 8705 §3). */
  readonly x5tS256?: string;
}

/** How a JWT-SVID client assertion is checked. */
export interface AssertionRules {
  /** Verifies a JWT-SVID whose audience must be exactly this issuer identifier. */
  readonly verifyJwtSvid: (token: string) => SvidCheck;
  readonly now: number;
  /** An assertion may expire at most this far in the future ("short exp", RFC 7523 §3). */
  readonly maxAssertionLifetimeMs: number;
}

const MAX_AUTHORIZATION = 4096;

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encodes them. */
function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/** The client id and secret of an HTTP Basic `Authorization` header, or undefined for another scheme. */
function basicCredentials(
  header: string | undefined,
): { readonly id: string; readonly secret: string } | undefined {
  if (header === undefined) return undefined;
  if (header.length > MAX_AUTHORIZATION)
    throw new OAuthError('invalid_request', 'Authorization is too long');
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header);
  if (match === null) {
    throw new OAuthError('invalid_client', 'Authorization must be HTTP Basic (RFC 6749 §2.3.1)');
  }
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const id = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
  const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
  if (id === undefined || secret === undefined || id === '') {
    throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials');
  }
  return { id, secret };
}

/**
 * Authenticates the client of a token, introspection or revocation request (docs/tokens.md):
 * - a JWT-SVID `client_assertion` (RFC 7523 §2.2 with a JWT-SVID): valid for the trust domain's
 *   JWT authorities, audience exactly the issuer identifier (never the token endpoint URL),
 *   expiring within `maxAssertionLifetimeMs`; its `sub` is the client. `jti` replay is not
 *   tracked: a JWT-SVID is legitimately sent many times while it lives;
 * - else the TLS client certificate (RFC 8705 `tls_client_auth`): a valid X509-SVID whose
 *   SPIFFE ID is the client; tokens are bound to it;
 * - a `client_id` (in the body, or in HTTP Basic with an empty secret, form-decoded) must equal
 *   the authenticated SPIFFE ID; a Basic secret is refused (Parley has no client secrets), and so
 *   is a request with no credential. Every refusal is `invalid_client`.
 */
export function authenticateClient(
  presented: PresentedClient,
  rules: AssertionRules,
): AuthenticatedClient {
  const basic = basicCredentials(presented.authorization);
  if (basic !== undefined && basic.secret !== '') {
    throw new OAuthError(
      'invalid_client',
      'client secrets are not accepted: authenticate with an X509-SVID (mTLS) or a JWT-SVID assertion',
    );
  }
  if (basic !== undefined && presented.clientId !== undefined && basic.id !== presented.clientId) {
    throw new OAuthError('invalid_request', 'client_id differs from the HTTP Basic client id');
  }
  const claimed = basic?.id ?? presented.clientId;
  const checkClaimed = (spiffeId: string) => {
    if (claimed !== undefined && claimed !== spiffeId) {
      throw new OAuthError('invalid_client', 'client_id is not the authenticated SPIFFE ID');
    }
  };
  if (presented.assertion !== undefined) {
    const r = rules.verifyJwtSvid(presented.assertion);
    if (!r.ok) throw new OAuthError('invalid_client', `client assertion refused: ${r.reason}`);
    if (r.expiresAt - rules.now > rules.maxAssertionLifetimeMs) {
      throw new OAuthError(
        'invalid_client',
        `client assertion expires too late (at most ${Math.floor(rules.maxAssertionLifetimeMs / 1000)} s ahead)`,
      );
    }
    checkClaimed(r.spiffeId);
    return { clientId: r.spiffeId, method: 'private_key_jwt' };
  }
  const cert = presented.certificate;
  if (cert !== undefined) {
    if (!cert.check.ok) {
      throw new OAuthError('invalid_client', `client certificate refused: ${cert.check.reason}`);
    }
    checkClaimed(cert.check.spiffeId);
    return { clientId: cert.check.spiffeId, method: 'tls_client_auth', x5tS256: cert.x5tS256 };
  }
  throw new OAuthError(
    'invalid_client',
    'client authentication is required: an X509-SVID (mTLS) or a JWT-SVID client_assertion',
  );
}
