/**
 * SDS resource names Parley reserves beyond DESIGN §3's (a SPIFFE ID, `default`, `ROOTCA`, `ALL`,
 * `spiffe://<td>`): `parley:jwt-svid:<audience>` is a generic secret holding
 * `Bearer <JWT-SVID of the caller for that audience>`, kept fresh by the agent, which the mesh
 * compiler has Envoy's credential injector send on routes with token egress.
 */
export const JWT_SVID_SECRET_PREFIX = 'parley:jwt-svid:';

/** The SDS name of the caller's JWT-SVID for `audience`. */
export function jwtSvidSecretName(audience: string): string {
  return `${JWT_SVID_SECRET_PREFIX}${audience}`;
}

/** The audience an SDS name asks a JWT-SVID for, or undefined when it names something else. */
export function jwtSvidSecretAudience(name: string): string | undefined {
  if (!name.startsWith(JWT_SVID_SECRET_PREFIX)) return undefined;
  const audience = name.slice(JWT_SVID_SECRET_PREFIX.length);
  // Printable ASCII without spaces, as the mesh config allows it; anything else is no audience.
  return /^[\x21-\x7e]{1,512}$/.test(audience) ? audience : undefined;
}

/**
 * `parley:oauth:<audience>[?scope=<scopes>]` is a generic secret holding `Bearer <access token>`
 * that the agent obtains from Parley's token endpoint with the caller's X509-SVID (client
 * credentials; the token is bound to that certificate) for the audience and space-separated
 * scopes.
 */
export const OAUTH_TOKEN_SECRET_PREFIX = 'parley:oauth:';

const SCOPE_SUFFIX = '?scope=';
const AUDIENCE = /^[\x21-\x3e\x40-\x7e]{1,512}$/; // printable ASCII, no space, no "?"
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/; // RFC 6749 §3.3 scope-token

/** The SDS name of an access token for `audience` with `scopes`. */
export function oauthTokenSecretName(audience: string, scopes: readonly string[]): string {
  return `${OAUTH_TOKEN_SECRET_PREFIX}${audience}${scopes.length === 0 ? '' : `${SCOPE_SUFFIX}${scopes.join(' ')}`}`;
}

/** The audience and scopes an SDS name asks an access token for, or undefined. */
export function oauthTokenSecretRequest(
  name: string,
): { readonly audience: string; readonly scopes: readonly string[] } | undefined {
  if (!name.startsWith(OAUTH_TOKEN_SECRET_PREFIX)) return undefined;
  const rest = name.slice(OAUTH_TOKEN_SECRET_PREFIX.length);
  const q = rest.indexOf(SCOPE_SUFFIX);
  const audience = q < 0 ? rest : rest.slice(0, q);
  const scopes = q < 0 ? [] : rest.slice(q + SCOPE_SUFFIX.length).split(' ');
  if (!AUDIENCE.test(audience) || scopes.length > 64 || scopes.some((s) => !SCOPE.test(s))) {
    return undefined;
  }
  return { audience, scopes };
}
