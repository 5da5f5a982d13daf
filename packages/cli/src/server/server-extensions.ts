import { createAdminApi } from '@parley/identity';
import { type ServerExtensions, serverIdOf } from './run-server.js';
import { auditRoutes } from './audit-routes.js';
import { authzDecisionRoutes } from './authz-decision-routes.js';
import { startAuthzModule } from './authz-module.js';
import { startMeshModule, verifyPeerSvid } from './mesh-module.js';
import { meshRoutes } from './mesh-routes.js';
import { startSecretsModule } from './secrets-module.js';
import { startTokensModule } from './tokens-module.js';
import { tokenRoutes } from './token-routes.js';

/** Admin-socket paths served by the secrets module's API (Vault's shapes, full access). */
const SECRETS_ADMIN_PATHS = /^\/v1\/(secret\/|secret\?|sys\/parley\/)/;

/**
 * The modules `parley server run` mounts beside identity: the admin API on its socket (with the
 * mesh's routes) and the mesh module.
 */
export const serverExtensions: ServerExtensions = {
  adminApi: ({ db, ca, config, clock, log, mesh, secrets, tokens }) => {
    const admin = createAdminApi({
      db,
      ca,
      trustDomain: config.trustDomain,
      clock,
      defaultX509SvidTtl: config.defaultX509SvidTtl,
      defaultJwtSvidTtl: config.defaultJwtSvidTtl,
      log: (message, cause) => log.error(message, { error: cause }),
      extraRoutes: [
        ...meshRoutes(mesh),
        ...authzDecisionRoutes({ db, clock }),
        ...auditRoutes({ db }),
        ...tokenRoutes(tokens),
      ],
    });
    if (secrets === undefined) return admin;
    return (req, res) =>
      SECRETS_ADMIN_PATHS.test(req.url ?? '') ? secrets.handleAdmin(req, res) : admin(req, res);
  },
  secrets: async ({ ca, material, config, db, metrics, clock, log, env }) =>
    config.secrets === undefined
      ? undefined
      : startSecretsModule(config.secrets, {
          trustDomain: config.trustDomain,
          dataDir: config.dataDir,
          ca,
          material,
          db,
          clock,
          log,
          metrics,
          env,
        }),
  tokens: async ({ ca, keyManager, material, config, db, metrics, clock, log }) =>
    config.tokens === undefined
      ? undefined
      : startTokensModule(config.tokens, {
          serverId: serverIdOf(config).toString(),
          ca,
          keyManager,
          material,
          db,
          clock,
          log,
          metrics,
        }),
  mesh: async ({ ca, material, config, db, metrics, clock, log, secrets, tokens }) => {
    if (config.mesh === undefined) return undefined;
    // Authorization enforces the policies of the mesh's repository: it runs with the mesh.
    const authz = await startAuthzModule(config.authz, {
      serverId: serverIdOf(config),
      tokensIssuer: tokens?.issuer,
      material,
      authenticate: (raw) => {
        const r = verifyPeerSvid(ca, clock, raw);
        return r.ok ? r.spiffeId.toString() : undefined;
      },
      db,
      clock,
      log,
      metrics,
    });
    return startMeshModule(config.mesh, {
      trustDomain: config.trustDomain,
      dataDir: config.dataDir,
      ca,
      material,
      clock,
      log,
      authz,
      secrets,
      tokens,
    });
  },
};
