import { createAdminApi } from '@parley/identity';
import type { ServerExtensions } from './run-server.js';

/** Mounts the admin API on the server's admin socket. */
export const adminApiExtension: ServerExtensions = {
  adminApi: ({ db, ca, config, clock, log }) =>
    createAdminApi({
      db,
      ca,
      trustDomain: config.trustDomain,
      clock,
      defaultX509SvidTtl: config.defaultX509SvidTtl,
      defaultJwtSvidTtl: config.defaultJwtSvidTtl,
      log: (message, cause) => log.error(message, { error: cause }),
    }),
};
