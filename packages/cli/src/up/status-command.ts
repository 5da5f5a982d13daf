import { resolve } from 'node:path';
import { ParleyError } from '@parley/core';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { outputFormat, renderData, renderFields, renderTable } from '../commands/output.js';
import { isAlive } from './probes.js';
import { DEFAULT_UP_DIR, type StatusDocument, readUpState } from './up-state.js';

/** The table form of `parley status`. */
export function renderStatus(s: StatusDocument): string {
  const url = s.services.find((x) => x.url !== undefined)?.url;
  const fields: [string, string][] = [
    ['trust domain', s.trustDomain],
    ['agent', s.agentSpiffeId],
    ['admin socket', s.adminSocket],
    ['agent socket', s.agentSocket],
    ['xds', s.xdsAddress],
    ['authz', s.authzAddress],
    ['metrics', s.metricsUrl],
    ['secrets', s.secretsUrl],
    ['tokens', s.tokensUrl],
  ];
  if (url !== undefined) fields.push(['front-end', url]);
  const components = renderTable(
    ['COMPONENT', 'STATE', 'PID', 'RESTARTS', 'LOG'],
    s.components.map((c) => [
      c.name,
      c.state,
      c.pid === null ? '-' : String(c.pid),
      String(c.restarts),
      c.log,
    ]),
  );
  const services = renderTable(
    ['SERVICE', 'SPIFFE ID', 'APP', 'INBOUND', 'ENVOY ADMIN', 'URL'],
    s.services.map((x) => [
      x.name,
      x.spiffeId,
      x.app ?? '-',
      x.inbound ?? '-',
      x.envoyAdmin,
      x.url ?? '',
    ]),
  );
  return `${renderFields(fields)}\n${components}\n${services}`;
}

/** `parley status [--dir DIR] [-o table|json|yaml]`: the running local mesh (DESIGN §4). */
export const statusCommand: Command = {
  summary: 'the local mesh of parley up: components, sockets, endpoints (-o json)',
  usage: `Usage: parley status [--dir DIR] [-o table|json|yaml]

Prints the local mesh parley up runs in DIR (default ./.parley): trust domain, agent ID, admin
and agent sockets, xDS address, metrics URL, every component (state starting|ready|restarting|
failed, pid, restarts, log) and every service (SPIFFE ID, app and inbound addresses, Envoy admin,
per-workload socket, and the front-end URL). Exit 1 when none runs there. See docs/up.md.
Exit codes: 0 success, 1 failed, 2 usage error.
`,
  run: async (args, io) => {
    const { values } = parseFlags(args, {
      dir: { type: 'string' },
      output: { type: 'string', short: 'o' },
    });
    const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
    const dir = resolve(values.dir ?? DEFAULT_UP_DIR);
    const state = await readUpState(dir);
    if (state === undefined) {
      throw new ParleyError('not-found', `no parley up is running in ${dir}`);
    }
    if (!isAlive(state.supervisorPid)) {
      throw new ParleyError(
        'unavailable',
        `parley up in ${dir} is not running (its supervisor, pid ${state.supervisorPid}, exited); run parley down to clean up`,
      );
    }
    io.stdout(format === 'table' ? renderStatus(state.status) : renderData(format, state.status));
    return 0;
  },
};
