import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { Server } from '@grpc/grpc-js';
import { loadAgentApi } from '@parley/api';
import {
  type Clock,
  type SpiffeId,
  type Task,
  generateKey,
  parseSpiffeId,
  runTasks,
  sleep,
  spkiOf,
} from '@parley/core';
import {
  type AgentRecord,
  Ca,
  DiskKeyManager,
  FileAuthorityJournal,
  type KeyManager,
  MemoryAuthorityJournal,
  MemoryKeyManager,
  type NodeAttestor,
  RotatingTlsMaterial,
  agentApiServerCredentials,
  createAgentApiService,
  joinTokenAttestor,
  loadUpstreamAuthority,
  x509popAttestor,
} from '@parley/identity';
import {
  type AttestedAgent,
  type Database,
  consumeJoinToken,
  createAgent,
  getAgent,
  listEntriesByParents,
  listBundles,
  openStore,
  setAgentSelectors,
  updateAgentSerials,
} from '@parley/store';
import type { Log } from '../log.js';
import { listen, listenUnix } from '../listen.js';
import { Metrics } from '../metrics.js';
import type { MeshAdmin } from './mesh-routes.js';
import type { SecretsModule } from './secrets-module.js';
import type { TokensModule } from './tokens-module.js';
import type { ServerConfig } from './server-config.js';

/** The server's own SPIFFE ID in its trust domain (agents check it instead of a host name). */
export function serverIdOf(config: ServerConfig): SpiffeId {
  return parseSpiffeId(`${config.trustDomain.idString()}/parley/server`);
}

function agentRecord(a: AttestedAgent): AgentRecord {
  return {
    spiffeId: a.spiffeId,
    attestationType: a.attestationType,
    selectors: a.selectors,
    certSerialNumber: a.certSerialNumber,
    newCertSerialNumber: a.newCertSerialNumber,
    banned: a.banned,
  };
}

/** Optional pieces mounted by other modules (the admin API) without this root importing them. */
export interface ServerExtensions {
  readonly adminApi?: (deps: {
    db: Database;
    ca: Ca;
    config: ServerConfig;
    clock: Clock;
    log: Log;
    /** The mesh module, when it runs (its admin routes). */
    mesh: MeshAdmin | undefined;
    /** The secrets module, when it runs (its API is also served on the admin socket). */
    secrets: SecretsModule | undefined;
    /** The tokens module, when it runs (its key admin on the admin socket). */
    tokens: TokensModule | undefined;
  }) => Parameters<typeof createServer>[1];
  /** The secrets module (Vault KV v2-compatible store), started when the config has `secrets:`. */
  readonly secrets?: (deps: {
    ca: Ca;
    material: RotatingTlsMaterial;
    config: ServerConfig;
    db: Database;
    metrics: Metrics;
    clock: Clock;
    log: Log;
    env: Readonly<Record<string, string | undefined>>;
  }) => Promise<SecretsModule | undefined>;
  /** The tokens module (OAuth 2.0 authorization server), started when the config has `tokens:`. */
  readonly tokens?: (deps: {
    ca: Ca;
    keyManager: KeyManager;
    material: RotatingTlsMaterial;
    config: ServerConfig;
    db: Database;
    metrics: Metrics;
    clock: Clock;
    log: Log;
  }) => Promise<TokensModule | undefined>;
  /** The mesh module (ADS from a Git repository), started when the config has `mesh:`. */
  readonly mesh?: (deps: {
    ca: Ca;
    material: RotatingTlsMaterial;
    config: ServerConfig;
    db: Database;
    metrics: Metrics;
    clock: Clock;
    log: Log;
    secrets: SecretsModule | undefined;
    tokens: TokensModule | undefined;
  }) => Promise<(MeshAdmin & { task: Task; close: () => void }) | undefined>;
}

/**
 * `parley server run`: the composition root of the identity server — store, key manager, CA,
 * the agent API over mTLS (with the server's own rotating SVID), the admin API on its Unix socket,
 * and /live, /ready, /metrics. Runs until `signal` aborts or a task fails.
 */
export async function runServer(
  config: ServerConfig,
  deps: {
    readonly clock: Clock;
    readonly log: Log;
    readonly signal: AbortSignal;
    readonly onReady?: () => void;
    /** The environment (secret sources such as `keyEnv`); only the entry file reads `process`. */
    readonly env?: Readonly<Record<string, string | undefined>>;
  },
  extensions: ServerExtensions = {},
): Promise<void> {
  const { clock, log, signal } = deps;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const db = await openStore(config.store);
  const metrics = new Metrics();
  try {
    const memory = config.keyManager === 'memory';
    const keyManager = memory
      ? new MemoryKeyManager()
      : await DiskKeyManager.open({ directory: join(config.dataDir, 'keys') });
    const journal = memory
      ? new MemoryAuthorityJournal()
      : new FileAuthorityJournal(join(config.dataDir, 'ca-journal.json'));
    const upstream = config.ca.upstream && (await loadUpstreamAuthority(config.ca.upstream, clock));
    const ca = await Ca.open(
      {
        trustDomain: config.trustDomain,
        x509: { keyType: config.ca.keyType, ttl: config.ca.ttl },
        jwt: { keyType: config.jwt.keyType, ttl: config.jwt.ttl },
        ...(upstream ? { upstream } : {}),
      },
      { keyManager, journal, clock, log: (e) => log.info('ca', { event: e }) },
    );
    const serverId = serverIdOf(config);

    // The server's own SVID for the agent API, re-minted at half-life and on CA changes.
    const material = new RotatingTlsMaterial();
    let serverSvidRefreshAt = 0;
    const refreshServerSvid = async () => {
      const key = generateKey('ec-p256');
      const minted = await ca.mintX509Svid({
        spiffeId: serverId,
        publicKey: spkiOf(createPublicKey(key)),
        ttl: config.agentSvidTtl,
        dnsNames: ['localhost'],
      });
      material.setIdentity(minted.certChain, key.export({ type: 'pkcs8', format: 'der' }));
      material.setCaCertificates(ca.bundle().x509Authorities.map((c) => c.raw));
      serverSvidRefreshAt = clock.now() + (minted.expiresAt - clock.now()) / 2;
    };
    await refreshServerSvid();
    const unsubscribe = ca.onChange(
      () =>
        void refreshServerSvid().catch((err: unknown) =>
          log.error('server SVID refresh failed', { error: err }),
        ),
    );

    const attestors = new Map<string, NodeAttestor>();
    if (config.joinToken) {
      attestors.set(
        'join_token',
        joinTokenAttestor({
          clock,
          store: {
            consumeJoinToken: async (token, now) => {
              const outcome = await consumeJoinToken(db, token, now);
              if (outcome.kind !== 'consumed') return undefined;
              const id = outcome.joinToken.spiffeId;
              return id === undefined ? undefined : { agentId: id };
            },
          },
        }),
      );
    }
    if (config.x509pop) {
      const pem = await readFile(config.x509pop.caBundleFile, 'utf8');
      const cas = pem
        .split(/(?=-----BEGIN CERTIFICATE-----)/)
        .filter((p) => p.includes('BEGIN'))
        .map((p) => new X509Certificate(p));
      attestors.set(
        'x509pop',
        x509popAttestor({ trustDomain: config.trustDomain, caCertificates: cas, clock }),
      );
    }

    const grpc = new Server();
    grpc.addService(
      loadAgentApi().service,
      createAgentApiService(
        {
          trustDomain: config.trustDomain,
          serverId,
          clock,
          attestors,
          agents: {
            getAgent: async (id) => {
              const a = await getAgent(db, id);
              return a && agentRecord(a);
            },
            saveAttestedAgent: async (agent, notAfter) => {
              const now = clock.now();
              await db.transaction(async (tx) => {
                const existing = await getAgent(tx, agent.spiffeId);
                if (existing === undefined) {
                  await createAgent(tx, { ...agent, certNotAfter: notAfter }, now);
                } else {
                  await updateAgentSerials(
                    tx,
                    agent.spiffeId,
                    { certSerialNumber: agent.certSerialNumber, certNotAfter: notAfter },
                    { now },
                  );
                  await setAgentSelectors(tx, agent.spiffeId, agent.selectors, now);
                }
              });
              metrics.inc('parley_identity_agents_attested_total');
            },
            saveRenewedSerial: async (id, serial, notAfter) => {
              await updateAgentSerials(
                db,
                id,
                { certSerialNumber: serial, certNotAfter: notAfter },
                { now: clock.now() },
              );
            },
          },
          entries: { entriesByParents: (ids) => listEntriesByParents(db, ids) },
          ca: {
            mintX509Svid: async (req) => {
              const m = await ca.mintX509Svid(req);
              metrics.inc('parley_identity_x509_svids_minted_total');
              return {
                certChain: m.certChain,
                serialNumber: Buffer.from(m.serialNumber).toString('hex'),
                expiresAt: m.expiresAt,
              };
            },
            mintJwtSvid: async (req) => {
              const m = await ca.mintJwtSvid(req);
              metrics.inc('parley_identity_jwt_svids_minted_total');
              return m;
            },
            bundle: () => ca.bundle(),
            taintedAuthorityIds: (kind) => ca.taintedAuthorityIds(kind),
            // Every CA certificate between SVIDs and the bundle's roots (self-signed CAs add none).
            intermediates: () => ca.x509Authorities().flatMap((a) => a.certChain.slice(0, -1)),
          },
          federatedBundles: async () =>
            (await listBundles(db)).filter((b) => !b.trustDomain.equals(config.trustDomain)),
          agentSvidTtl: config.agentSvidTtl,
          defaultX509SvidTtl: config.defaultX509SvidTtl,
          defaultJwtSvidTtl: config.defaultJwtSvidTtl,
        },
        (message, cause) => log.error(message, { error: cause }),
      ),
    );
    await new Promise<void>((resolve, reject) =>
      grpc.bindAsync(config.agentApiAddress, agentApiServerCredentials(material), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    log.info('agent API listening', {
      address: config.agentApiAddress,
      serverId: serverId.toString(),
    });

    const env = deps.env ?? {};
    const secrets = await extensions.secrets?.({
      ca,
      material,
      config,
      db,
      metrics,
      clock,
      log,
      env,
    });
    const tokens = await extensions.tokens?.({
      ca,
      keyManager,
      material,
      config,
      db,
      metrics,
      clock,
      log,
    });
    const mesh = await extensions.mesh?.({
      ca,
      material,
      config,
      db,
      metrics,
      clock,
      log,
      secrets,
      tokens,
    });
    const admin = extensions.adminApi?.({ db, ca, config, clock, log, mesh, secrets, tokens });
    const adminServer =
      admin === undefined
        ? undefined
        : await listenUnix(createServer(admin), config.adminSocket, 0o600);
    if (adminServer) log.info('admin API listening', { socket: config.adminSocket });

    const health = await listen(
      createServer((req, res) => {
        if (req.url === '/live') return void res.writeHead(200).end('ok\n');
        if (req.url === '/ready') return void res.writeHead(200).end('ready\n');
        if (req.url === '/metrics')
          return void res
            .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
            .end(metrics.render());
        res.writeHead(404).end();
      }),
      config.healthAddress,
    );
    log.info('health listening', { address: config.healthAddress });
    deps.onReady?.();

    const tasks: Task[] = [
      (s) => ca.run(s),
      async (s) => {
        while (!s.aborted) {
          await sleep(Math.max(1000, serverSvidRefreshAt - clock.now()), s).catch(() => undefined);
          if (!s.aborted && clock.now() >= serverSvidRefreshAt) await refreshServerSvid();
        }
      },
      ...(mesh === undefined ? [] : [mesh.task]),
      ...(secrets === undefined ? [] : [secrets.task]),
      ...(tokens === undefined ? [] : [tokens.task]),
    ];
    try {
      await runTasks(signal, tasks);
    } finally {
      unsubscribe();
      grpc.forceShutdown();
      mesh?.close();
      await secrets?.close();
      await tokens?.close();
      adminServer?.close();
      health.close();
    }
  } finally {
    await db.close();
  }
}
