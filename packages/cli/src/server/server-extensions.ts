import { createAdminApi } from '@parley/identity';
import type { ServerExtensions } from './run-server.js';
import { startMeshModule } from './mesh-module.js';

/**
 * The modules `parley server run` mounts beside identity: the admin API on its socket (with the
 * mesh status at `GET /v1/mesh/status` when the mesh runs) and the mesh module.
 */
export const serverExtensions: ServerExtensions = {
  adminApi: ({ db, ca, config, clock, log, meshStatus }) => {
    const identity = createAdminApi({
      db,
      ca,
      trustDomain: config.trustDomain,
      clock,
      defaultX509SvidTtl: config.defaultX509SvidTtl,
      defaultJwtSvidTtl: config.defaultJwtSvidTtl,
      log: (message, cause) => log.error(message, { error: cause }),
    });
    return (req, res) => {
      if (req.url !== '/v1/mesh/status') return identity(req, res);
      if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
      if (meshStatus === undefined) {
        return void res.writeHead(404, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: {
              code: 'not-found',
              message: 'the mesh module is off (no mesh: in the server config)',
            },
          }),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(meshStatus()));
    };
  },
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
