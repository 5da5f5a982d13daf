import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  type Task,
  type TrustDomain,
  bundleSet,
  parseSpiffeId,
  runTasks,
  verifyJwtSvid,
} from '@parley/core';
import { type SecretPolicy, parseSecretPolicyDocument } from '@parley/api';
import type { Ca, RotatingTlsMaterial } from '@parley/identity';
import {
  type RotatableDatabase,
  TokenService,
  compileSecretPolicies,
  createPostgresRotator,
  createSecretEngine,
  createSecretsAdmin,
  createSecretsApi,
  decideSecretAccess,
  listenSecretsHttp,
  peerCertificateChain,
  readJsonBody,
} from '@parley/secrets';
import { type Database, listEntries, listSecretPolicies } from '@parley/store';
import type { Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import { periodic } from './periodic.js';
import { followServerSvid, peerSvidVerifier } from './server-svid.js';
import { loadKeyring, readSecretSource } from './secrets-keys.js';
import type { SecretsConfig } from './server-config.js';

/** The secrets module as the server runs it. */
export interface SecretsModule {
  /** `host:port` the HTTPS listener is bound to. */
  readonly address: string;
  /** Serves a request that arrived on the admin socket (full access, still audited). */
  handleAdmin(req: IncomingMessage, res: ServerResponse): void;
  /** Makes the SecretPolicy documents of the mesh's served commit part of the effective set. */
  serveMeshPolicies(policies: readonly SecretPolicy[]): void;
  readonly task: Task;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const ADMIN_CACHE_MS = 5_000;
const POLICY_RELOAD_MS = 10_000;
const TOKEN_PRUNE_MS = 60_000;

/**
 * Starts the secrets module: the keyring, the KV engine over the datastore, SPIFFE
 * authentication (X509-SVID over mTLS, JWT-SVID, login tokens), the effective SecretPolicy set
 * (the mesh repository's documents and those stored through the admin API), database rotators,
 * and the HTTPS listener with the server's own SVID.
 */
export async function startSecretsModule(
  config: SecretsConfig,
  deps: {
    readonly trustDomain: TrustDomain;
    readonly dataDir: string;
    readonly ca: Ca;
    readonly material: RotatingTlsMaterial;
    readonly db: Database;
    readonly clock: Clock;
    readonly log: Log;
    readonly metrics: Metrics;
    readonly env: Readonly<Record<string, string | undefined>>;
  },
): Promise<SecretsModule> {
  const { ca, db, clock, log, metrics } = deps;
  const keyring = await loadKeyring(config, deps.dataDir, deps.env);

  let meshPolicies: readonly SecretPolicy[] = [];
  let adminPolicies: readonly SecretPolicy[] = [];
  let effective = compileSecretPolicies([]);
  const recompile = () => {
    effective = compileSecretPolicies([...meshPolicies, ...adminPolicies]);
  };
  const reloadAdminPolicies = async () => {
    const rows = await listSecretPolicies(db);
    const parsed: SecretPolicy[] = [];
    for (const row of rows) {
      try {
        parsed.push(
          parseSecretPolicyDocument(JSON.parse(row.document) as unknown, row.name, 'admin'),
        );
      } catch (err) {
        // Stored policies were valid when written; one that no longer parses grants nothing.
        log.error('stored secret policy does not parse; ignored', { policy: row.name, error: err });
      }
    }
    adminPolicies = parsed;
    recompile();
  };
  await reloadAdminPolicies();

  const databases = new Map<string, RotatableDatabase & { close(): Promise<void> }>();
  for (const d of config.databases) {
    const password =
      d.password === undefined
        ? undefined
        : await readSecretSource(d.password, deps.env, `secrets database "${d.name}" password`);
    databases.set(
      d.name,
      createPostgresRotator({
        name: d.name,
        roles: d.roles,
        connection: {
          host: d.host,
          port: d.port,
          database: d.database,
          user: d.user,
          ...(password !== undefined && { password }),
        },
      }),
    );
  }

  const engine = createSecretEngine({
    db,
    keyring,
    clock,
    decide: (request) => decideSecretAccess(effective, request),
    beforeRevoke: async (_path, data) => {
      const username = data['username'];
      if (typeof username !== 'string') return;
      for (const target of databases.values()) {
        if (target.roles.includes(username)) await target.revoke(username);
      }
    },
  });
  const tokens = new TokenService({ db, clock, ttlMs: config.tokenTtl });

  const adminIds = new Map<string, { admin: boolean; until: number }>();
  const isAdmin = async (spiffeId: string): Promise<boolean> => {
    const now = clock.now();
    const cached = adminIds.get(spiffeId);
    if (cached !== undefined && cached.until > now) return cached.admin;
    const page = await listEntries(db, { bySpiffeId: parseSpiffeId(spiffeId), pageSize: 1000 });
    const admin = page.entries.some((e) => e.admin);
    if (adminIds.size > 10_000) adminIds.clear();
    adminIds.set(spiffeId, { admin, until: now + ADMIN_CACHE_MS });
    return admin;
  };

  const verifyPeer = peerSvidVerifier(ca, clock);
  const api = createSecretsApi({
    engine,
    clock,
    auth: {
      x509: (chain) => {
        const [leaf] = chain;
        return leaf === undefined
          ? { ok: false, reason: 'no client certificate' }
          : verifyPeer(leaf);
      },
      jwt: (token) => {
        const r = verifyJwtSvid(token, bundleSet(ca.bundle()), config.audiences, clock);
        return r.ok
          ? { ok: true, spiffeId: r.svid.spiffeId.toString(), expiresAt: r.svid.expiresAt }
          : r;
      },
      login: (spiffeId, method, requestId) => tokens.issue(spiffeId, method, requestId),
      loginRefused: (method, reason, requestId) => tokens.refused(method, reason, requestId),
      lookup: (token) => tokens.lookup(token),
      revoke: (token) => tokens.revoke(token),
      isAdmin,
    },
    admin: createSecretsAdmin({
      db,
      clock,
      engine,
      parsePolicy: (name, spec) => parseSecretPolicyDocument(spec, name, 'admin'),
      policiesChanged: reloadAdminPolicies,
      databases,
    }),
    readBody: (req) => readJsonBody(req, { maxBytes: MAX_BODY_BYTES }),
    log: (message, fields) => log.error(`secrets: ${message}`, fields),
  });

  const counted = (req: IncomingMessage, res: ServerResponse) => {
    res.once('finish', () =>
      metrics.inc('parley_secrets_requests_total', 1, {
        method: req.method ?? '',
        code: String(res.statusCode),
      }),
    );
  };

  // The listener's certificate is the server's SVID, swapped in when it rotates.
  const svid = await followServerSvid(deps.material);
  const listener = await listenSecretsHttp({
    address: config.address,
    tls: svid.initial,
    handler: (req, res) => {
      counted(req, res);
      let chain: Buffer[] | undefined;
      void api(req, res, {
        kind: 'listener',
        peerChain: () => (chain ??= peerCertificateChain(req)),
      });
    },
  });
  svid.attach(listener);
  log.info('secrets listening', { address: listener.address, keyEncryptionKey: keyring.activeId });

  const every = periodic(log, 'secrets');

  return {
    address: listener.address,
    handleAdmin: (req, res) => {
      counted(req, res);
      void api(req, res, { kind: 'admin-socket' });
    },
    serveMeshPolicies: (policies) => {
      meshPolicies = policies;
      recompile();
    },
    task: (signal) =>
      runTasks(signal, [
        every(config.revokeInterval, 'revoking ended graces', () => engine.finishExpiredGraces()),
        every(POLICY_RELOAD_MS, 'reloading secret policies', reloadAdminPolicies),
        every(TOKEN_PRUNE_MS, 'pruning tokens', () => tokens.prune()),
      ]),
    close: async () => {
      svid.detach();
      await listener.close();
      for (const d of databases.values()) await d.close();
    },
  };
}
