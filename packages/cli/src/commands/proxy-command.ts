import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { toProto3Json } from '@parley/api';
import { invalidArgument, parseSpiffeId } from '@parley/core';
import { mintProxyBootstrap } from '@parley/mesh';
import { stringify } from 'yaml';
import { UsageError } from '../command.js';
import { resolveWorkloadSocket } from '../workload-client.js';
import { parseAdminFlags, flagValue, required } from './admin-flags.js';
import { commandGroup } from './command-group.js';
import { outputFormat } from './output.js';

/** The default `host:port` of the server's ADS listener (mTLS), as in `mesh.xdsAddress`. */
export const DEFAULT_XDS_ADDRESS = '127.0.0.1:15012';

function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 1 && port <= 65535)) {
    throw invalidArgument(`"${text.slice(0, 64)}" is not host:port`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** `parley proxy bootstrap`: writes an Envoy sidecar's bootstrap (DESIGN §1, issue 4). */
export const proxyCommand = commandGroup(
  'proxy',
  'Envoy sidecars: proxy bootstrap --spiffe-id ID [--instance NAME] …',
  `Usage: parley proxy bootstrap --spiffe-id ID [flags]

Prints (or writes) an Envoy v3 bootstrap for a sidecar: ADS to the Parley server over mTLS with
the proxy's own SVID (SDS name "default" from the agent; the server must present
spiffe://<td>/parley/server), SDS from the agent socket, admin on 127.0.0.1 only. Run Envoy with
it: envoy -c bootstrap.json. The SPIFFE ID is the proxy's node.id; the agent must hand the
Envoy process an SVID with that ID (e.g. through the workload's own agent socket).

  --spiffe-id ID        the proxy's SPIFFE ID (its service's identity)
  --instance NAME       the instance of its service it fronts (node.metadata.instance)
  --xds-address H:P     the server's ADS listener (default ${DEFAULT_XDS_ADDRESS})
  --server-id ID        the server's SPIFFE ID (default spiffe://<td of --spiffe-id>/parley/server)
  --socket PATH         the agent socket for SDS (default: $SPIFFE_ENDPOINT_SOCKET, else
                        ./.parley/agent.sock; unix:///PATH is accepted)
  --admin-port N        Envoy's admin port on 127.0.0.1 (default 0: any free port; find it
                        with envoy --admin-address-path FILE)
  --delta               use delta xDS (DELTA_GRPC) instead of state of the world
  --write FILE          write the bootstrap to FILE instead of stdout
  -o json|yaml          output format (default json)
Exit codes: 0 success, 1 failed, 2 usage error.
`,
  {
    bootstrap: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        'spiffe-id': { type: 'string' },
        instance: { type: 'string' },
        'xds-address': { type: 'string' },
        'server-id': { type: 'string' },
        socket: { type: 'string' },
        'admin-port': { type: 'string' },
        delta: { type: 'boolean' },
        write: { type: 'string' },
        output: { type: 'string', short: 'o' },
      });
      const format = outputFormat(values.output, ['json', 'yaml'], 'json');
      const spiffeId = flagValue(
        'spiffe-id',
        required(values['spiffe-id'], 'spiffe-id', 'proxy bootstrap'),
        parseSpiffeId,
      );
      const serverId = flagValue(
        'server-id',
        values['server-id'] ?? `${spiffeId.trustDomain.idString()}/parley/server`,
        parseSpiffeId,
      );
      const instance = values.instance;
      if (instance !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(instance)) {
        throw new UsageError('--instance: use 1-63 letters, digits, ".", "_" or "-"');
      }
      const adminPort = flagValue('admin-port', values['admin-port'] ?? '0', (t) => {
        const n = Number(t);
        if (!/^\d{1,5}$/.test(t) || n > 65535) throw invalidArgument('not a port number');
        return n;
      });
      const bootstrap = mintProxyBootstrap({
        spiffeId,
        ...(instance === undefined ? {} : { instance }),
        agentSocket: resolve(resolveWorkloadSocket(values.socket, io.env)),
        xdsAddress: flagValue(
          'xds-address',
          values['xds-address'] ?? DEFAULT_XDS_ADDRESS,
          parseHostPort,
        ),
        serverId,
        adminPort,
        delta: values.delta === true,
      });
      const json = toProto3Json('envoy.config.bootstrap.v3.Bootstrap', bootstrap);
      const text = format === 'yaml' ? stringify(json) : `${JSON.stringify(json, null, 2)}\n`;
      if (values.write === undefined) io.stdout(text);
      else await writeFile(values.write, text, { mode: 0o644 });
      return 0;
    },
  },
);
