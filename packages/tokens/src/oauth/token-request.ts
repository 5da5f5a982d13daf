/** The error codes of the token endpoint (RFC 6749 §5.2, RFC 8693 §2.2.2). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target';

/** A refused token request: the RFC's error code and a description without secrets. */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

/** The grant type of RFC 8693 token exchange. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** The client assertion type of RFC 7523 §2.2. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The token type of an access token (RFC 8693 §3). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** The token type of a JWT (RFC 8693 §3). */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** How the client said who it is in the request body (HTTP Basic and mTLS come from elsewhere). */
export interface BodyClientAuth {
  readonly clientId?: string;
  readonly assertion?: string;
}

/** A parsed token request. */
export type TokenRequest =
  | {
      readonly grantType: 'client_credentials';
      readonly scope: readonly string[];
      readonly audience: readonly string[];
      readonly client: BodyClientAuth;
    }
  | {
      readonly grantType: 'token-exchange';
      readonly subjectToken: string;
      readonly subjectTokenType: string;
      readonly actorToken?: string;
      readonly actorTokenType?: string;
      readonly requestedTokenType?: string;
      readonly scope: readonly string[];
      readonly audience: readonly string[];
      readonly client: BodyClientAuth;
    };

/** The largest token request body read (a JWT-SVID assertion and a subject token fit easily). */
export const MAX_TOKEN_REQUEST_BYTES = 64 * 1024;
const MAX_SCOPES = 64;
const MAX_AUDIENCES = 16;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/; // RFC 6749 §3.3 scope-token
// Parameters that may be repeated (RFC 8693 §2.1); every other one at most once (RFC 6749 §3.2).
const REPEATABLE = new Set(['audience', 'resource']);

function scopes(value: string | undefined): string[] {
  if (value === undefined) return [];
  const list = value.split(' ');
  if (list.length > MAX_SCOPES || list.some((s) => !SCOPE_TOKEN.test(s))) {
    throw new OAuthError('invalid_scope', 'scope must be space-separated scope tokens');
  }
  return [...new Set(list)];
}

/**
 * Parses an `application/x-www-form-urlencoded` OAuth request body (RFC 6749 §3.2): bounded;
 * every parameter at most once except `audience` and `resource`; empty values treated as absent
 * (RFC 6749 §3.1); unknown parameters kept for the caller to ignore.
 */
export function parseForm(contentType: string | undefined, body: string): Map<string, string[]> {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  if (Buffer.byteLength(body, 'utf8') > MAX_TOKEN_REQUEST_BYTES) {
    throw new OAuthError('invalid_request', `the request exceeds ${MAX_TOKEN_REQUEST_BYTES} bytes`);
  }
  const params = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(body)) {
    if (value === '') continue;
    const values = params.get(key) ?? [];
    if (values.length > 0 && !REPEATABLE.has(key)) {
      throw new OAuthError(
        'invalid_request',
        `parameter ${key.slice(0, 64)} is given more than once`,
      );
    }
    values.push(value);
    params.set(key, values);
  }
  return params;
}

/** How the client said who it is in a form body. */
export function bodyClientAuth(params: ReadonlyMap<string, readonly string[]>): BodyClientAuth {
  const one = (key: string) => params.get(key)?.[0];
  const assertionType = one('client_assertion_type');
  const assertion = one('client_assertion');
  if ((assertionType === undefined) !== (assertion === undefined)) {
    throw new OAuthError(
      'invalid_request',
      'client_assertion and client_assertion_type go together',
    );
  }
  if (assertionType !== undefined && assertionType !== JWT_BEARER_ASSERTION) {
    throw new OAuthError('invalid_client', 'unsupported client_assertion_type');
  }
  if (one('client_secret') !== undefined) {
    throw new OAuthError('invalid_client', 'client secrets are not accepted');
  }
  const clientId = one('client_id');
  return {
    ...(clientId !== undefined && { clientId }),
    ...(assertion !== undefined && { assertion }),
  };
}

/**
 * Parses a token request body (RFC 6749 §4.4.2 and RFC 8693 §2.1) with `parseForm`'s rules.
 */
export function parseTokenRequest(contentType: string | undefined, body: string): TokenRequest {
  const params = parseForm(contentType, body);
  const one = (key: string) => params.get(key)?.[0];
  const audience = [...(params.get('audience') ?? []), ...(params.get('resource') ?? [])];
  if (audience.length > MAX_AUDIENCES) {
    throw new OAuthError('invalid_target', `at most ${MAX_AUDIENCES} audiences`);
  }
  const client = bodyClientAuth(params);
  const grantType = one('grant_type');
  switch (grantType) {
    case 'client_credentials':
      return { grantType, scope: scopes(one('scope')), audience, client };
    case TOKEN_EXCHANGE: {
      const subjectToken = one('subject_token');
      const subjectTokenType = one('subject_token_type');
      if (subjectToken === undefined || subjectTokenType === undefined) {
        throw new OAuthError(
          'invalid_request',
          'subject_token and subject_token_type are required',
        );
      }
      const actorToken = one('actor_token');
      const actorTokenType = one('actor_token_type');
      if ((actorToken === undefined) !== (actorTokenType === undefined)) {
        throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together');
      }
      const requestedTokenType = one('requested_token_type');
      return {
        grantType: 'token-exchange',
        subjectToken,
        subjectTokenType,
        ...(actorToken !== undefined && { actorToken }),
        ...(actorTokenType !== undefined && { actorTokenType }),
        ...(requestedTokenType !== undefined && { requestedTokenType }),
        scope: scopes(one('scope')),
        audience,
        client,
      };
    }
    case undefined:
      throw new OAuthError('invalid_request', 'grant_type is required');
    default:
      throw new OAuthError('unsupported_grant_type', 'use client_credentials or token exchange');
  }
}
