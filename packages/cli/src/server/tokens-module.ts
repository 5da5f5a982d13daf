import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type Clock, type Task, bundleSet, runTasks, verifyJwtSvid } from '@parley/core';
import { type TokenPolicy, listenHttp } from '@parley/api';
import type { Ca, KeyManager, RotatingTlsMaterial } from '@parley/identity';
import { AuditBatcher, type Database, pruneRevokedTokens } from '@parley/store';
import {
  JwksIssuer,
  type PeerCertificate,
  type SvidCheck,
  TokenPolicySet,
  TokenSigningKeys,
  createTokenService,
  createTokensApi,
} from '@parley/tokens';
import type { Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { TokensConfig } from './server-config.js';
import { periodic } from './periodic.js';
import { followServerSvid, peerSvidVerifier } from './server-svid.js';

/** The tokens module as the server runs it. */
export interface TokensModule {
  /** The issuer identifier (`tokensUrl` in `parley status`). */
  readonly issuer: string;
  /** `host:port` the HTTPS listener is bound to. */
  readonly address: string;
  /** Makes the TokenPolicy documents of the mesh's served commit the policy in force. */
  serveMeshPolicies(policies: readonly TokenPolicy[]): void;
  /** Admin: the published signing keys, and a forced rotation. */
  signingKeys(): ReturnType<TokenSigningKeys['periods']>;
  /** Returns when the next key signs. */
  rotateSigningKey(): Promise<number>;
  readonly task: Task;
  close(): Promise<void>;
}

const KEY_ADVANCE_MS = 10_000;
const ENDPOINTS = new Set([
  '/oauth2/token',
  '/oauth2/introspect',
  '/oauth2/revoke',
  '/oauth2/jwks',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
]);
const ISSUER_REFRESH_MS = 60_000;
const REVOKED_PRUNE_MS = 60_000;

/**
 * Starts the tokens module: the signing keys of this replica (in the server's key manager), the
 * TokenPolicy set of the mesh's commit (none until it is served: deny by default), trusted issuers
 * of subject tokens, the token service and its HTTPS listener with the server's own SVID.
 */
export async function startTokensModule(
  config: TokensConfig,
  deps: {
    readonly serverId: string;
    readonly ca: Ca;
    readonly keyManager: KeyManager;
    readonly material: RotatingTlsMaterial;
    readonly db: Database;
    readonly clock: Clock;
    readonly log: Log;
    readonly metrics: Metrics;
  },
): Promise<TokensModule> {
  const { ca, db, clock, log, metrics } = deps;
  const keys = new TokenSigningKeys({
    db,
    keys: deps.keyManager,
    serverId: deps.serverId,
    schedule: {
      alg: config.signing.alg,
      activeMs: config.signing.rotateEvery,
      overlapMs: config.signing.overlap,
      maxTokenTtlMs: config.maxTokenTtl,
    },
    clock,
  });
  await keys.advance();

  const issuers = await Promise.all(
    config.subjectIssuers.map(async (s) => {
      const ca =
        'url' in s.jwks && s.jwks.caFile !== undefined
          ? await readFile(s.jwks.caFile, 'utf8')
          : undefined;
      const location =
        'file' in s.jwks
          ? { file: s.jwks.file }
          : { url: s.jwks.url, ...(ca !== undefined && { ca }) };
      return new JwksIssuer(s.issuer, location, s.audience);
    }),
  );
  const refreshIssuers = async () => {
    for (const i of issuers) {
      await i
        .refresh()
        .catch((err: unknown) =>
          log.error('tokens: subject issuer keys not refreshed', { error: err }),
        );
    }
  };
  await refreshIssuers();

  let policies = new TokenPolicySet([]);

  // The listener's certificate is the server's SVID, swapped in when it rotates.
  const svid = await followServerSvid(deps.material);

  // The issuer is known once the port is: bind first, then build the API it serves.
  const served: { api?: ReturnType<typeof createTokensApi> } = {};
  const verifyPeer = peerSvidVerifier(ca, clock);
  const peerOf = (req: IncomingMessage): PeerCertificate => {
    const leaf = (req.socket as TLSSocket).getPeerX509Certificate?.();
    if (leaf === undefined) return undefined;
    return {
      check: verifyPeer(leaf.raw),
      x5tS256: createHash('sha256').update(leaf.raw).digest('base64url'),
    };
  };
  const listener = await listenHttp({
    address: config.address,
    tls: svid.initial,
    handler: (req: IncomingMessage, res: ServerResponse) => {
      res.once('finish', () => {
        // Known endpoints only as label values: a client's paths must not grow the metrics.
        const path = (req.url ?? '').split('?')[0] ?? '';
        metrics.inc('parley_tokens_requests_total', 1, {
          endpoint: ENDPOINTS.has(path) ? path : 'other',
          code: String(res.statusCode),
        });
      });
      let peer: { value: PeerCertificate } | undefined;
      if (served.api === undefined) {
        res.writeHead(503).end();
        return;
      }
      void served.api(req, res, () => (peer ??= { value: peerOf(req) }).value);
    },
  });
  svid.attach(listener);
  const port = listener.address.slice(listener.address.lastIndexOf(':') + 1);
  const issuer = config.issuer ?? `https://localhost:${port}`;

  const verifySvidForIssuer = (token: string): SvidCheck => {
    const r = verifyJwtSvid(token, bundleSet(ca.bundle()), [issuer], clock);
    if (!r.ok) return r;
    // RFC 7523 §3: the audience identifies this authorization server, and only it.
    if (r.svid.audience.length !== 1)
      return { ok: false, reason: 'the audience must be the issuer alone' };
    return { ok: true, spiffeId: r.svid.spiffeId.toString(), expiresAt: r.svid.expiresAt };
  };
  const audit = new AuditBatcher(db);
  const service = createTokenService({
    issuer,
    db,
    keys,
    clock,
    policies: () => policies,
    maxTokenTtlMs: config.maxTokenTtl,
    subjectIssuers: () => issuers,
    verifyJwtSvid: verifySvidForIssuer,
    audit,
  });
  const minted = service.token.bind(service);
  served.api = createTokensApi({
    issuer,
    service: {
      ...service,
      token: async (client, request) => {
        const response = await minted(client, request);
        metrics.inc('parley_tokens_minted_total', 1, { grant: request.grantType });
        return response;
      },
    },
    keys,
    algorithms: [config.signing.alg],
    assertionRules: () => ({
      verifyJwtSvid: verifySvidForIssuer,
      now: clock.now(),
      maxAssertionLifetimeMs: config.maxAssertionLifetime,
    }),
    log: (message, fields) => log.error(`tokens: ${message}`, fields),
  });
  log.info('tokens listening', { address: listener.address, issuer, kid: keys.current().kid });

  const every = periodic(log, 'tokens');

  return {
    issuer,
    address: listener.address,
    serveMeshPolicies: (p) => {
      policies = new TokenPolicySet(p);
    },
    signingKeys: () => keys.periods(),
    rotateSigningKey: () => keys.rotate(config.signing.publishLead),
    task: (signal) =>
      runTasks(signal, [
        // Often enough that the next key is out before `overlap` runs short.
        every(
          Math.max(250, Math.min(KEY_ADVANCE_MS, config.signing.overlap / 4)),
          'advancing signing keys',
          () => keys.advance(),
        ),
        every(ISSUER_REFRESH_MS, 'refreshing subject issuers', refreshIssuers),
        every(REVOKED_PRUNE_MS, 'pruning revoked tokens', () =>
          pruneRevokedTokens(db, clock.now()),
        ),
      ]),
    close: async () => {
      svid.detach();
      await listener.close();
    },
  };
}
