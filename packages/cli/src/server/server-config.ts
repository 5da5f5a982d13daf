import { join } from 'node:path';
import {
  type Duration,
  type KeyType,
  type ObjectReader,
  type TrustDomain,
  parseDuration,
  parseTrustDomain,
} from '@parley/core';
import { CA_KEY_TYPES } from '@parley/identity';
import { type StoreConfig, parseStoreConfig } from '@parley/store';
import { loadConfigFile } from '../config-file.js';

/** `parley server run` settings (see docs/server-config.md). */
export interface ServerConfig {
  readonly trustDomain: TrustDomain;
  readonly dataDir: string;
  /** `host:port` of the agent API (mTLS). */
  readonly agentApiAddress: string;
  /** Unix socket of the admin API (mode 0600). */
  readonly adminSocket: string;
  /** `host:port` serving /live, /ready and /metrics (loopback by default). */
  readonly healthAddress: string;
  readonly store: StoreConfig;
  readonly keyManager: 'memory' | 'disk';
  readonly ca: {
    readonly keyType: KeyType;
    readonly ttl: Duration;
    readonly upstream: { readonly certChainFile: string; readonly keyFile: string } | undefined;
  };
  readonly jwt: { readonly keyType: KeyType; readonly ttl: Duration };
  readonly defaultX509SvidTtl: Duration;
  readonly defaultJwtSvidTtl: Duration;
  readonly agentSvidTtl: Duration;
  readonly joinToken: boolean;
  readonly x509pop: { readonly caBundleFile: string } | undefined;
  /** The mesh module (ADS to Envoy from a Git repository of intent); off when absent. */
  readonly mesh: MeshConfig | undefined;
  /** Authorization (runs with the mesh module, whose repository holds the policies). */
  readonly authz: AuthzConfig;
}

/** `authz:` settings (docs/authz.md). */
export interface AuthzConfig {
  /** `host:port` of the authz listener (mTLS): ext_authz Check, policy stream, decision log. */
  readonly address: string;
  /**
   * Where sidecars send the decisions Envoy's RBAC filter cannot make: the node's agent (over
   * its socket, the default) or this server's authz listener.
   */
  readonly extAuthz: 'agent' | 'server';
  /** The share of allowed requests recorded in the decision log (denies are all recorded). */
  readonly sampleAllows: number;
}

/** `mesh:` settings: where proxies connect and which repository holds the intent. */
export interface MeshConfig {
  /** `host:port` of the ADS listener (mTLS; proxies present their SVIDs). */
  readonly xdsAddress: string;
  /** A local path or a remote URL of the Git repository. */
  readonly repository: string;
  readonly branch: string;
  /** How often the branch is checked for new commits. */
  readonly pollInterval: Duration;
}

/** The `authz:` settings when the config gives none. */
export const DEFAULT_AUTHZ_CONFIG: AuthzConfig = {
  address: '127.0.0.1:15013',
  extAuthz: 'agent',
  sampleAllows: 0.01,
};

/** Reads and checks a server config file. */
export function loadServerConfig(file: string): Promise<Readonly<ServerConfig>> {
  return loadConfigFile(file, (r, path) => readServerConfig(r, path), 'server config');
}

function keyType(r: ObjectReader, fallback: KeyType): KeyType {
  return r.oneOf('keyType', CA_KEY_TYPES, fallback);
}

// A remote URL stays as written; a local path is resolved against the config file's folder.
function meshRepository(value: string, path: (p: string) => string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//.test(value) || /^[^/]+@[^/]+:/.test(value) ? value : path(value);
}

/** The reader behind `loadServerConfig`, for validation and tests. */
export function readServerConfig(r: ObjectReader, path: (p: string) => string): ServerConfig {
  const trustDomain = r.parsed('trustDomain', parseTrustDomain);
  const dataDir = path(r.string('dataDir'));
  const ca = r.object('ca');
  const upstream = ca?.object('upstream');
  const jwt = r.object('jwt');
  const svid = r.object('svid');
  const attestors = r.object('nodeAttestors');
  const x509pop = attestors?.object('x509pop');
  const mesh = r.object('mesh');
  const authz = r.object('authz');
  const sampleAllows =
    authz?.has('sampleAllows') === true
      ? authz.raw('sampleAllows')
      : DEFAULT_AUTHZ_CONFIG.sampleAllows;
  if (typeof sampleAllows !== 'number' || !(sampleAllows >= 0 && sampleAllows <= 1)) {
    authz?.problem('sampleAllows', 'must be a number from 0 to 1');
  }
  let store: StoreConfig = { sqlite: { path: join(dataDir, 'server.db') } };
  if (r.has('store')) {
    try {
      const parsed = parseStoreConfig(r.raw('store'));
      store = 'sqlite' in parsed ? { sqlite: { path: path(parsed.sqlite.path) } } : parsed;
    } catch (err) {
      r.problem('store', (err as Error).message);
    }
  }
  return {
    trustDomain,
    dataDir,
    agentApiAddress: r.string('agentApiAddress', '127.0.0.1:8081'),
    adminSocket: path(r.string('adminSocket', join(dataDir, 'admin.sock'))),
    healthAddress: r.string('healthAddress', '127.0.0.1:8082'),
    store,
    keyManager: r.oneOf('keyManager', ['memory', 'disk'] as const, 'disk'),
    ca: {
      keyType: ca === undefined ? 'ec-p256' : keyType(ca, 'ec-p256'),
      ttl: ca?.duration('ttl', parseDuration('24h')) ?? parseDuration('24h'),
      upstream:
        upstream === undefined
          ? undefined
          : {
              certChainFile: path(upstream.string('certChainFile')),
              keyFile: path(upstream.string('keyFile')),
            },
    },
    jwt: {
      keyType: jwt === undefined ? 'ec-p256' : keyType(jwt, 'ec-p256'),
      ttl: jwt?.duration('ttl', parseDuration('24h')) ?? parseDuration('24h'),
    },
    defaultX509SvidTtl:
      svid?.duration('defaultX509Ttl', parseDuration('1h')) ?? parseDuration('1h'),
    defaultJwtSvidTtl: svid?.duration('defaultJwtTtl', parseDuration('5m')) ?? parseDuration('5m'),
    agentSvidTtl: svid?.duration('agentTtl', parseDuration('1h')) ?? parseDuration('1h'),
    joinToken: attestors === undefined ? true : attestors.object('join_token') !== undefined,
    x509pop:
      x509pop === undefined ? undefined : { caBundleFile: path(x509pop.string('caBundleFile')) },
    mesh:
      mesh === undefined
        ? undefined
        : {
            xdsAddress: mesh.string('xdsAddress', '127.0.0.1:15012'),
            repository: meshRepository(mesh.string('repository'), path),
            branch: mesh.string('branch', 'main'),
            pollInterval: mesh.duration('pollInterval', parseDuration('2s')),
          },
    authz: {
      address:
        authz?.string('address', DEFAULT_AUTHZ_CONFIG.address) ?? DEFAULT_AUTHZ_CONFIG.address,
      extAuthz:
        authz?.oneOf('extAuthz', ['agent', 'server'] as const, DEFAULT_AUTHZ_CONFIG.extAuthz) ??
        DEFAULT_AUTHZ_CONFIG.extAuthz,
      sampleAllows: typeof sampleAllows === 'number' ? sampleAllows : 0,
    },
  };
}
