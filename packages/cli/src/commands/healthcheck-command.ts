import type { HealthDto } from '@parley/identity';
import { ParleyError } from '@parley/core';
import { connect, parseAdminFlags } from './admin-flags.js';
import { type AdminCommand, COMMON_USAGE } from './command-group.js';

/** `parley healthcheck [--socket PATH]`: exit 0 when the server answers on its admin socket and is healthy. */
export const healthcheckCommand: AdminCommand = {
  summary: 'check that the server is healthy, through its admin socket',
  usage: `Usage: parley healthcheck [--socket PATH]\n\nExits 0 when the server answers on its admin socket and its datastore answers, else 1.\n${COMMON_USAGE}`,
  run: async (args, io) => {
    const { values } = parseAdminFlags(args, { socket: { type: 'string' } });
    try {
      const health = await connect(values, io).get<HealthDto>('/v1/health');
      io.stdout(`server is healthy (trust domain ${health.trustDomain})\n`);
      return 0;
    } catch (err) {
      if (err instanceof ParleyError)
        throw new ParleyError(err.code, `server is unhealthy: ${err.message}`);
      throw err;
    }
  },
};
