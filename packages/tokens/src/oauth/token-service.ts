import {
  type Clock,
  type JsonObject,
  type JsonValue,
  decodeBase64Url,
  isJsonObject,
  parseJson,
} from '@parley/core';
import type { TokenGrant } from '@parley/api';
import {
  type AuditBatcher,
  type AuditDetailValue,
  type Database,
  appendAudit,
  insertRevokedToken,
  isTokenRevoked,
} from '@parley/store';
import type { TokenSigningKeys } from '../keys/signing-keys.js';
import { type Actor, mintAccessToken, verifyAccessToken } from '../jwt/access-token.js';
import { type VerificationJwk, audienceClaim, secondsClaim, verifyJwt } from '../jwt/jws.js';
import { type TokenPolicySet, decideTokenGrant } from '../policy/decide-token-grant.js';
import type { AuthenticatedClient, SvidCheck } from './client-auth.js';
import {
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  OAuthError,
  type TokenRequest,
} from './token-request.js';

/** An issuer of end-user tokens that may be exchanged (configured; its keys kept fresh). */
export interface SubjectIssuer {
  readonly issuer: string;
  /** When set, subject tokens must list it in `aud`. */
  readonly audience?: string | undefined;
  keys(): readonly VerificationJwk[];
}

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope?: string;
  readonly issued_token_type?: string;
}

/** The token service: grants, introspection and revocation over the signing keys and policy. */
export interface TokenService {
  token(client: AuthenticatedClient, request: TokenRequest): Promise<TokenResponse>;
  introspect(client: AuthenticatedClient, token: string): Promise<Record<string, unknown>>;
  revoke(client: AuthenticatedClient, token: string): Promise<void>;
}

/** The audit record of a mint or refusal (never the token: its id). */
type Detail = Record<string, AuditDetailValue>;

/** The deepest `act` chain accepted in a subject token. */
const MAX_ACTOR_DEPTH = 8;
const SUBJECT_TYPES = new Set([ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE]);
const acceptSubjectTyp = (typ: string | undefined) =>
  typ === undefined || ['jwt', 'at+jwt', 'application/at+jwt'].includes(typ.toLowerCase());

/** The `iss` of a JWT before verification, to pick the keys that verify it. */
function unverifiedIssuer(token: string): string | undefined {
  const body = token.split('.')[1];
  const bytes = body === undefined ? undefined : decodeBase64Url(body);
  if (bytes === undefined || bytes.length > 16 * 1024) return undefined;
  try {
    const claims = parseJson(bytes.toString('utf8'));
    const iss = isJsonObject(claims) ? claims.get('iss') : undefined;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function actorOf(value: JsonValue | undefined, depth = 0): Actor | undefined {
  if (value === undefined) return undefined;
  if (!isJsonObject(value) || typeof value.get('sub') !== 'string' || depth >= MAX_ACTOR_DEPTH) {
    throw new OAuthError(
      'invalid_grant',
      'the subject token has a malformed or too deep act claim',
    );
  }
  const inner = actorOf(value.get('act'), depth + 1);
  return { sub: value.get('sub') as string, ...(inner !== undefined && { act: inner }) };
}

function depthOf(actor: Actor): number {
  return actor.act === undefined ? 1 : 1 + depthOf(actor.act);
}

function scopeClaim(claims: JsonObject): string[] {
  const scope = claims.get('scope');
  return typeof scope === 'string' && scope !== '' ? scope.split(' ') : [];
}

/**
 * The OAuth grants (docs/tokens.md): client credentials for workloads and RFC 8693 token
 * exchange, each decided by the TokenPolicy set, minted as an RFC 9068 JWT, and recorded in the
 * audit chain — group-committed, so the response leaves only once its record is stored.
 */
export function createTokenService(deps: {
  readonly issuer: string;
  readonly db: Database;
  readonly keys: TokenSigningKeys;
  readonly clock: Clock;
  readonly policies: () => TokenPolicySet;
  /** The cap on every token's lifetime (also how long retired signing keys stay published). */
  readonly maxTokenTtlMs: number;
  readonly subjectIssuers: () => readonly SubjectIssuer[];
  /** Verifies an actor token: a JWT-SVID for this issuer. */
  readonly verifyJwtSvid: (token: string) => SvidCheck;
  readonly audit: AuditBatcher;
}): TokenService {
  const { issuer, db, keys, clock, audit } = deps;

  const record = (client: AuthenticatedClient, action: string, detail: Detail) =>
    audit.record({ at: clock.now(), module: 'tokens', action, subject: client.clientId, detail });

  /** Verifies a token Parley issued (any audience), not revoked. */
  async function verifyOwn(token: string) {
    const r = verifyAccessToken(token, keys.published(), { issuer, now: clock.now() });
    if (!r.ok) return r;
    if (await isTokenRevoked(db, r.claims.get('jti') as string)) {
      return { ok: false as const, reason: 'revoked' };
    }
    return r;
  }

  async function subjectOf(request: Extract<TokenRequest, { grantType: 'token-exchange' }>) {
    if (!SUBJECT_TYPES.has(request.subjectTokenType)) {
      throw new OAuthError(
        'invalid_request',
        'subject_token_type must be an access token or a JWT',
      );
    }
    const iss = unverifiedIssuer(request.subjectToken);
    let claims: JsonObject;
    let label: string;
    if (iss === issuer) {
      const r = await verifyOwn(request.subjectToken);
      if (!r.ok) throw new OAuthError('invalid_grant', `subject token refused: ${r.reason}`);
      claims = r.claims;
      label = 'self';
    } else {
      const trusted = deps.subjectIssuers().find((i) => i.issuer === iss);
      if (trusted === undefined) {
        throw new OAuthError('invalid_grant', 'the subject token is not from a trusted issuer');
      }
      const r = verifyJwt(request.subjectToken, trusted.keys(), {
        issuer: trusted.issuer,
        ...(trusted.audience !== undefined && { audience: trusted.audience }),
        now: clock.now(),
        acceptTyp: acceptSubjectTyp,
      });
      if (!r.ok) throw new OAuthError('invalid_grant', `subject token refused: ${r.reason}`);
      claims = r.claims;
      label = trusted.issuer;
    }
    const sub = claims.get('sub');
    if (typeof sub !== 'string' || sub === '') {
      throw new OAuthError('invalid_grant', 'the subject token has no sub');
    }
    return {
      issuer: label,
      sub,
      scopes: scopeClaim(claims),
      expiresAt: (secondsClaim(claims, 'exp') ?? 0) * 1000,
      act: actorOf(claims.get('act')),
      mayAct: claims.get('may_act'),
    };
  }

  return {
    async token(client, request) {
      const now = clock.now();
      const grant: TokenGrant =
        request.grantType === 'client_credentials' ? 'client_credentials' : 'token-exchange';
      let subject: Awaited<ReturnType<typeof subjectOf>> | undefined;
      try {
        if (request.grantType === 'token-exchange') {
          if (
            request.requestedTokenType !== undefined &&
            !SUBJECT_TYPES.has(request.requestedTokenType)
          ) {
            throw new OAuthError('invalid_request', 'requested_token_type must be an access token');
          }
          if (request.actorToken !== undefined) {
            if (request.actorTokenType !== JWT_TOKEN_TYPE) {
              throw new OAuthError('invalid_request', 'actor_token must be a JWT-SVID (type jwt)');
            }
            const actor = deps.verifyJwtSvid(request.actorToken);
            if (!actor.ok)
              throw new OAuthError('invalid_grant', `actor token refused: ${actor.reason}`);
            if (actor.spiffeId !== client.clientId) {
              throw new OAuthError('invalid_grant', 'the actor token is not the client’s');
            }
          }
          subject = await subjectOf(request);
          if (subject.mayAct !== undefined) {
            const allowed = isJsonObject(subject.mayAct) ? subject.mayAct.get('sub') : undefined;
            if (allowed !== client.clientId) {
              throw new OAuthError(
                'invalid_grant',
                'the subject token’s may_act does not name this client',
              );
            }
          }
        }
        const decision = decideTokenGrant(deps.policies(), {
          client: client.clientId,
          grant,
          audiences: request.audience,
          scopes: request.scope,
          ...(subject !== undefined && {
            subject: { issuer: subject.issuer, sub: subject.sub, scopes: subject.scopes },
          }),
        });
        if (!decision.ok) throw new OAuthError(decision.error, decision.description);
        let expiresAt = now + Math.min(decision.maxTtlMs, deps.maxTokenTtlMs);
        if (subject !== undefined) expiresAt = Math.min(expiresAt, subject.expiresAt);
        // The new token's chain is one actor deeper than the subject's: it must stay readable.
        if (subject?.act !== undefined && depthOf(subject.act) >= MAX_ACTOR_DEPTH) {
          throw new OAuthError(
            'invalid_grant',
            'the subject token’s act chain is as deep as allowed',
          );
        }
        const act: Actor | undefined =
          subject === undefined
            ? undefined
            : { sub: client.clientId, ...(subject.act !== undefined && { act: subject.act }) };
        const minted = await mintAccessToken(keys.current(now), {
          iss: issuer,
          sub: subject?.sub ?? client.clientId,
          aud: decision.audiences,
          clientId: client.clientId,
          scope: decision.scopes,
          issuedAt: now,
          expiresAt,
          ...(client.x5tS256 !== undefined && { x5tS256: client.x5tS256 }),
          ...(act !== undefined && { act }),
        });
        await record(client, grant === 'client_credentials' ? 'token.mint' : 'token.exchange', {
          jti: minted.jti,
          grant,
          audience: [...decision.audiences],
          scope: [...decision.scopes],
          expiresAt,
          rules: [...decision.rules],
          auth: client.method,
          ...(subject !== undefined && { sub: subject.sub, subjectIssuer: subject.issuer }),
        });
        return {
          access_token: minted.token,
          token_type: 'Bearer',
          expires_in: Math.max(1, Math.floor((expiresAt - now) / 1000)),
          ...(decision.scopes.length > 0 && { scope: decision.scopes.join(' ') }),
          ...(subject !== undefined && { issued_token_type: ACCESS_TOKEN_TYPE }),
        };
      } catch (err) {
        if (err instanceof OAuthError) {
          await record(client, 'token.refused', {
            grant,
            error: err.error,
            reason: err.description,
            audience: [...request.audience],
            scope: [...request.scope],
          });
        }
        throw err;
      }
    },

    async introspect(_client, token) {
      const r = await verifyOwn(token);
      if (!r.ok) return { active: false };
      const c = r.claims;
      const cnf = c.get('cnf');
      const x5t = isJsonObject(cnf) ? cnf.get('x5t#S256') : undefined;
      return {
        active: true,
        iss: c.get('iss'),
        sub: c.get('sub'),
        aud: audienceClaim(c),
        client_id: c.get('client_id'),
        ...(typeof c.get('scope') === 'string' && { scope: c.get('scope') }),
        exp: secondsClaim(c, 'exp'),
        iat: secondsClaim(c, 'iat'),
        jti: c.get('jti'),
        token_type: 'Bearer',
        ...(typeof x5t === 'string' && { cnf: { 'x5t#S256': x5t } }),
        ...(c.has('act') && { act: actorOf(c.get('act')) }),
      };
    },

    async revoke(client, token) {
      // RFC 7009 §2.2: a token that is invalid, expired or unknown needs nothing done.
      const r = verifyAccessToken(token, keys.published(), { issuer, now: clock.now() });
      if (!r.ok) return;
      if (r.claims.get('client_id') !== client.clientId) {
        const refused = new OAuthError(
          'unauthorized_client',
          'the token was not issued to this client',
        );
        await record(client, 'token.refused', {
          grant: 'revocation',
          error: refused.error,
          jti: r.claims.get('jti') as string,
        });
        throw refused;
      }
      const jti = r.claims.get('jti') as string;
      const expiresAt = (secondsClaim(r.claims, 'exp') ?? 0) * 1000;
      const at = clock.now();
      // The revocation and its audit record commit together.
      await db.transaction(async (tx) => {
        await insertRevokedToken(tx, { jti, clientId: client.clientId, revokedAt: at, expiresAt });
        await appendAudit(tx, {
          at,
          module: 'tokens',
          action: 'token.revoke',
          subject: client.clientId,
          detail: { jti },
        });
      });
    },
  };
}
