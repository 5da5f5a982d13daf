import { parseSpiffeId } from '@parley/core';
import type { JoinTokenDto } from '@parley/identity';
import { ADMIN_FLAGS, connect, parseAdminFlags, flagValue, secondsFlag } from './admin-flags.js';
import { COMMON_USAGE, commandGroup } from './command-group.js';
import { outputFormat, renderData } from './output.js';

/**
 * `parley token generate [--spiffe-id ID] [--ttl D]`: a single-use join token. Prints the token
 * alone (`-o json|yaml` adds its expiry and the agent SPIFFE ID it attests as).
 */
export const tokenCommand = commandGroup(
  'token',
  'join tokens for agents: token generate [--spiffe-id ID] [--ttl D]',
  `Usage: parley token generate [--spiffe-id ID] [--ttl D] [-o table|json|yaml]

Creates a single-use join token and prints it alone (-o json|yaml adds its expiry and the agent
SPIFFE ID it attests as). Only a hash of it is stored.

  --spiffe-id ID  the agent ID to attest as, under /parley/agent/ (default: a fresh
                  /parley/agent/join_token/<uuid>)
  --ttl D         how long the token is valid (default 10m, at most 30 days)
${COMMON_USAGE}`,
  {
    generate: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        'spiffe-id': { type: 'string' },
        ttl: { type: 'string' },
      });
      const format = outputFormat(values.output, ['table', 'json', 'yaml'], 'table');
      const spiffeId = values['spiffe-id'];
      if (spiffeId !== undefined) flagValue('spiffe-id', spiffeId, parseSpiffeId);
      const ttl = values.ttl === undefined ? undefined : secondsFlag('ttl', values.ttl, 1);
      const created = await connect(values, io).post<JoinTokenDto>('/v1/join-tokens', {
        ...(spiffeId === undefined ? {} : { spiffeId }),
        ...(ttl === undefined ? {} : { ttl }),
      });
      io.stdout(format === 'table' ? `${created.token}\n` : renderData(format, created));
      return 0;
    },
  },
);
