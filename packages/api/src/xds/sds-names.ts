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
