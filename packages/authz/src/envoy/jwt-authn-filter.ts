import type { AuthzJwtIssuer, ProtoObject } from '@parley/api';
import { JWT_CLOCK_SKEW_SECONDS } from '../jwt/verify-end-user-jwt.js';
import { jwksClusterName } from './jwt-jwks-clusters.js';

/** The name of Envoy's JWT authentication HTTP filter (and of its dynamic metadata namespace). */
export const JWT_AUTHN_FILTER_NAME = 'envoy.filters.http.jwt_authn';

/** The type URL of the JWT filter's config. */
export const JWT_AUTHN_TYPE_URL =
  'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';

/** The key of the filter's dynamic metadata under which a verified token's claims are put. */
export const JWT_PAYLOAD_METADATA_KEY = 'payload';

/** How long Envoy keeps a fetched remote JWKS before fetching it again. */
export const JWKS_CACHE_DURATION_S = 300;

/** How long Envoy waits for a remote JWKS. */
export const JWKS_FETCH_TIMEOUT_MS = 5000;

/** The name of the JWT provider of the issuer at `index` of the list given to the filter. */
export function jwtProviderName(index: number): string {
  return `issuer-${index}`;
}

const ms = (n: number) => ({ seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1e6 });

function provider(issuer: AuthzJwtIssuer): ProtoObject {
  const jwks = issuer.jwks;
  return {
    issuer: issuer.issuer,
    ...(issuer.audiences.length > 0 && { audiences: [...issuer.audiences] }),
    ...(jwks.kind === 'inline'
      ? { local_jwks: { inline_string: JSON.stringify({ keys: jwks.keys }) } }
      : {
          remote_jwks: {
            http_uri: {
              uri: jwks.uri,
              cluster: jwksClusterName(jwks.uri),
              timeout: ms(JWKS_FETCH_TIMEOUT_MS),
            },
            cache_duration: { seconds: JWKS_CACHE_DURATION_S },
            // Fetched when the listener starts (which waits for it), not on a request's path.
            async_fetch: { fast_listener: false },
          },
        }),
    // Only these headers (no `access_token` query parameter: tokens stay out of URLs and logs).
    from_headers: issuer.fromHeaders.map((h) => ({
      name: h.name,
      ...(h.prefix !== '' && { value_prefix: h.prefix }),
    })),
    forward: true,
    payload_in_metadata: JWT_PAYLOAD_METADATA_KEY,
    require_expiration: true,
    clock_skew_seconds: JWT_CLOCK_SKEW_SECONDS,
  };
}

/**
 * Envoy's JWT filter for the end-user token issuers of the mesh, or undefined when there are
 * none. One provider per issuer (inline JWKS, or a remote JWKS fetched through the cluster of
 * `jwksClusters`); every request may carry no token (authorization then decides, e.g. 403), but
 * a token that no issuer verifies — bad signature, expired, unknown issuer, wrong audience — is
 * answered 401 by Envoy. A verified token's claims go to the dynamic metadata
 * `envoy.filters.http.jwt_authn` → `payload`, where the RBAC filter and ext_authz read them.
 */
export function jwtAuthnFilter(
  issuers: readonly AuthzJwtIssuer[],
): { name: typeof JWT_AUTHN_FILTER_NAME; typed_config: ProtoObject } | undefined {
  if (issuers.length === 0) return undefined;
  const providers: Record<string, ProtoObject> = {};
  issuers.forEach((issuer, i) => {
    providers[jwtProviderName(i)] = provider(issuer);
  });
  return {
    name: JWT_AUTHN_FILTER_NAME,
    typed_config: {
      '@type': JWT_AUTHN_TYPE_URL,
      providers,
      rules: [
        {
          match: { prefix: '/' },
          requires: {
            requires_any: {
              requirements: [
                ...Object.keys(providers).map((name) => ({ provider_name: name })),
                { allow_missing: {} },
              ],
            },
          },
        },
      ],
    },
  };
}
