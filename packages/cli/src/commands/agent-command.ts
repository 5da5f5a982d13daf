import { ParleyError, parseSpiffeId } from '@parley/core';
import { formatSelector } from '@parley/core';
import { type AgentDto, type AgentPageDto } from '@parley/identity';
import { pathSegment } from '../admin-client.js';
import type { CliIo } from '../command.js';
import { ADMIN_FLAGS, connect, parseAdminFlags, flagValue, required } from './admin-flags.js';
import { COMMON_USAGE, type Subcommand, commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const READ_FORMATS = ['table', 'json', 'yaml'] as const;

function renderAgent(a: AgentDto): string {
  return renderFields([
    ['SPIFFE ID', a.spiffeId],
    ['Attestation type', a.attestationType],
    ['Selectors', a.selectors.length === 0 ? '-' : a.selectors.map(formatSelector).join(', ')],
    ['SVID serial', a.certSerialNumber],
    ['SVID expires at', a.certNotAfter],
    ['Banned', String(a.banned)],
    ['Attested at', a.createdAt],
    ['Updated at', a.updatedAt],
  ]);
}

/** A subcommand acting on one agent named by `--spiffe-id`. */
function oneAgent(
  verb: string,
  call: (client: ReturnType<typeof connect>, path: string) => Promise<AgentDto>,
  done: (a: AgentDto) => string,
): Subcommand {
  return async (args: readonly string[], io: CliIo) => {
    const { values } = parseAdminFlags(args, { ...ADMIN_FLAGS, 'spiffe-id': { type: 'string' } });
    const format = outputFormat(values.output, READ_FORMATS, 'table');
    const id = required(values['spiffe-id'], 'spiffe-id', `agent ${verb}`);
    flagValue('spiffe-id', id, parseSpiffeId);
    const agent = await call(connect(values, io), `/v1/agents/${pathSegment(id)}`);
    io.stdout(format === 'table' ? done(agent) : renderData(format, agent));
    return 0;
  };
}

/**
 * The admin verbs of `parley agent` (`agent run` is the composition root's): list, show, evict
 * (the agent must attest again) and ban (refused until evicted).
 */
export const AGENT_SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  list: async (args, io) => {
    const { values } = parseAdminFlags(args, { ...ADMIN_FLAGS, banned: { type: 'boolean' } });
    const format = outputFormat(values.output, READ_FORMATS, 'table');
    const client = connect(values, io);
    const agents: AgentDto[] = [];
    let pageToken: string | undefined;
    do {
      const page: AgentPageDto = await client.get<AgentPageDto>('/v1/agents', {
        pageToken,
        banned: values.banned === true ? 'true' : undefined,
      });
      agents.push(...page.agents);
      // A server repeating a token would make this walk endless.
      if (page.nextPageToken !== undefined && page.nextPageToken === pageToken)
        throw new ParleyError('internal', 'the admin API repeated a page token');
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    io.stdout(
      format === 'table'
        ? renderTable(
            ['SPIFFE ID', 'ATTESTATION', 'SVID EXPIRES AT', 'BANNED'],
            agents.map((a) => [a.spiffeId, a.attestationType, a.certNotAfter, String(a.banned)]),
          )
        : renderData(format, { agents }),
    );
    return 0;
  },
  show: oneAgent('show', (c, path) => c.get<AgentDto>(path), renderAgent),
  evict: oneAgent(
    'evict',
    (c, path) => c.delete<AgentDto>(path),
    (a) => `evicted agent ${a.spiffeId}: it must attest again\n`,
  ),
  ban: oneAgent(
    'ban',
    (c, path) => c.post<AgentDto>(`${path}/ban`),
    (a) => `banned agent ${a.spiffeId}\n`,
  ),
};

/** `parley agent list|show|evict|ban` (DESIGN §4). */
export const agentCommand = commandGroup(
  'agent',
  'attested agents: agent list|show|evict|ban --spiffe-id ID',
  `Usage:
  parley agent list [--banned]
  parley agent show --spiffe-id ID
  parley agent evict --spiffe-id ID     deletes it: the agent must attest again
  parley agent ban --spiffe-id ID       refuses it until it is evicted
  parley agent run --config FILE        runs the node agent
Output: -o table|json|yaml
${COMMON_USAGE}`,
  AGENT_SUBCOMMANDS,
);
