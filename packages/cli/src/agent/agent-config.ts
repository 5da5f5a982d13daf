import { join } from 'node:path';
import {
  type Duration,
  type ObjectReader,
  type SpiffeId,
  type TrustDomain,
  parseDuration,
  parseSpiffeId,
  invalidArgument,
  parseTrustDomain,
} from '@parley/core';
import { type WorkloadAttestorsConfig, readWorkloadAttestorsConfig } from '@parley/agent';
import { loadConfigFile } from '../config-file.js';

/** `parley agent run` settings (see docs/agent-config.md). */
export interface AgentConfig {
  readonly trustDomain: TrustDomain;
  readonly dataDir: string;
  readonly serverAddress: string;
  readonly serverId: SpiffeId;
  /** PEM file of the server's CA certificates, to trust it before the first bundle arrives. */
  readonly bootstrapBundleFile: string;
  /** The general Workload API socket (`SPIFFE_ENDPOINT_SOCKET=unix://<socketPath>`). */
  readonly socketPath: string;
  /** A join token for the first attestation (or `PARLEY_JOIN_TOKEN`). */
  readonly joinToken: string | undefined;
  /** x509pop node attestation instead of a join token: the node's certificate chain and key. */
  readonly x509pop: { readonly certChainFile: string; readonly keyFile: string } | undefined;
  readonly syncInterval: Duration;
  readonly workloadAttestors: WorkloadAttestorsConfig;
  /** Per-workload sockets (DESIGN §1): `<dir>/<name>.sock` for each `parley:socket:<name>`. */
  readonly workloadSockets: WorkloadSocketsConfig | undefined;
  /** The xDS relay (DESIGN §1): ADS on the agent sockets, forwarded to the server; off when absent. */
  readonly xdsRelay: XdsRelayConfig | undefined;
  /**
   * The embedded ext_authz service (docs/authz.md): policies streamed from the server's authz
   * listener, `envoy.service.auth.v3.Authorization/Check` served on the agent sockets; off when
   * absent.
   */
  readonly authz: { readonly serverAddress: string } | undefined;
  /**
   * Parley's OAuth token endpoint (an https URL), where the agent obtains the access tokens of
   * routes with `egress.token.source: oauth` for the workloads it serves (docs/tokens.md).
   */
  readonly tokenEndpoint: string | undefined;
}

/** Where the agent's xDS relay forwards ADS streams. */
export interface XdsRelayConfig {
  /** `host:port` of the server's ADS listener (the server's `mesh.xdsAddress`). */
  readonly serverAddress: string;
}

/** Where and how the agent serves per-workload sockets. */
export interface WorkloadSocketsConfig {
  readonly dir: string;
  /** Permission bits of each socket: 0o600 (default) or 0o660 (the agent's group may connect). */
  readonly mode: number;
}

/** The socket modes a config may name, as written in the config. */
const SOCKET_MODES = { '0600': 0o600, '0660': 0o660 } as const;

/** Checks a `host:port` address (a host name, an IPv4 literal or a bracketed IPv6 literal). */
function parseAddress(text: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 1 && port <= 65535))
    throw invalidArgument(`"${text.slice(0, 64)}" is not host:port`);
  return text;
}

/** Resolves a required path field, which is undefined at run time when missing (a problem then). */
function optionalPath(value: string | undefined, path: (p: string) => string): string {
  return value === undefined ? '' : path(value);
}

/** Reads and checks an agent config file. */
export function loadAgentConfig(file: string): Promise<Readonly<AgentConfig>> {
  return loadConfigFile(file, (r, path) => readAgentConfig(r, path), 'agent config');
}

/** The reader behind `loadAgentConfig`. */
export function readAgentConfig(r: ObjectReader, path: (p: string) => string): AgentConfig {
  const trustDomain = r.parsed('trustDomain', parseTrustDomain);
  const dataDir = path(r.string('dataDir'));
  const attestors = r.object('workloadAttestors');
  const x509pop = r.object('x509pop');
  const sockets = r.object('workloadSockets');
  const relay = r.object('xdsRelay');
  const authz = r.object('authz');
  if (x509pop !== undefined && r.has('joinToken'))
    r.problem('x509pop', 'use either joinToken or x509pop');
  return {
    trustDomain,
    dataDir,
    serverAddress: r.string('serverAddress', '127.0.0.1:8081'),
    serverId: r.has('serverId')
      ? r.parsed('serverId', parseSpiffeId)
      : parseSpiffeId(`${trustDomain?.idString() ?? 'spiffe://invalid'}/parley/server`),
    bootstrapBundleFile: path(r.string('bootstrapBundleFile')),
    socketPath: path(r.string('socketPath', join(dataDir, 'agent.sock'))),
    joinToken: r.optionalString('joinToken'),
    x509pop:
      x509pop === undefined
        ? undefined
        : {
            certChainFile: path(x509pop.string('certChainFile')),
            keyFile: path(x509pop.string('keyFile')),
          },
    syncInterval: r.duration('syncInterval', parseDuration('5s')),
    workloadAttestors:
      attestors === undefined
        ? { unix: { discoverWorkloadPath: true, workloadSizeLimit: 512 * 1024 * 1024 } }
        : readWorkloadAttestorsConfig(attestors),
    workloadSockets:
      sockets === undefined
        ? undefined
        : {
            dir: optionalPath(sockets.string('dir'), path),
            mode: SOCKET_MODES[
              sockets.oneOf(
                'mode',
                Object.keys(SOCKET_MODES) as (keyof typeof SOCKET_MODES)[],
                '0600',
              )
            ],
          },
    xdsRelay:
      relay === undefined
        ? undefined
        : { serverAddress: relay.parsed('serverAddress', parseAddress) },
    authz:
      authz === undefined
        ? undefined
        : { serverAddress: authz.parsed('serverAddress', parseAddress) },
    tokenEndpoint: r.has('tokenEndpoint')
      ? r.parsed('tokenEndpoint', (v) => {
          if (!/^https:\/\/[^/?#]+\/[^?#]*$/.test(v)) {
            throw new Error(
              'must be an https URL with a path, e.g. https://localhost:8443/oauth2/token',
            );
          }
          return v;
        })
      : undefined,
  };
}
