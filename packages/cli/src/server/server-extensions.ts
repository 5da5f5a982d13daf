import { createAdminApi } from '@parley/identity';
import type { ServerExtensions } from './run-server.js';
import { startMeshModule } from './mesh-module.js';
import { meshRoutes } from './mesh-routes.js';

/**
 * The modules `parley server run` mounts beside identity: the admin API on its socket (with the
 * mesh's routes) and the mesh module.
 */
export const serverExtensions: ServerExtensions = {
  adminApi: ({ db, ca, config, clock, log, mesh }) =>
    createAdminApi({
      db,
      ca,
      trustDomain: config.trustDomain,
      clock,
      defaultX509SvidTtl: config.defaultX509SvidTtl,
      defaultJwtSvidTtl: config.defaultJwtSvidTtl,
      log: (message, cause) => log.error(message, { error: cause }),
      extraRoutes: meshRoutes(mesh),
    }),
  mesh: ({ ca, material, config, clock, log }) =>
    config.mesh === undefined
      ? Promise.resolve(undefined)
      : startMeshModule(config.mesh, {
          trustDomain: config.trustDomain,
          dataDir: config.dataDir,
          ca,
          material,
          clock,
          log,
        }),
};
