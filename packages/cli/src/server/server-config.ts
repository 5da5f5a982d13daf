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
  /** The secrets module (Vault KV v2-compatible store); off when absent. */
  readonly secrets: SecretsConfig | undefined;
  /** The tokens module (OAuth 2.0 authorization server); off when absent. */
  readonly tokens: TokensConfig | undefined;
}

/** `tokens:` settings (docs/tokens.md). */
export interface TokensConfig {
  /** `host:port` of the HTTPS listener (the server's SVID; mTLS optional). */
  readonly address: string;
  /** The issuer identifier; default `https://localhost:<bound port>`. */
  readonly issuer: string | undefined;
  readonly signing: {
    readonly alg: 'ES256' | 'RS256';
    /** How long a signing key signs. */
    readonly rotateEvery: Duration;
    /** How long before it signs a key is published. */
    readonly overlap: Duration;
    /** The least time a key is published before a forced rotation lets it sign. */
    readonly publishLead: Duration;
  };
  /** The cap on every access token's lifetime. */
  readonly maxTokenTtl: Duration;
  /** How far in the future a JWT-SVID client assertion may expire. */
  readonly maxAssertionLifetime: Duration;
  /** Issuers of end-user tokens that may be exchanged (RFC 8693 subject tokens). */
  readonly subjectIssuers: readonly SubjectIssuerConfig[];
}

/** An issuer whose tokens may be exchanged, with where its keys are published. */
export interface SubjectIssuerConfig {
  readonly issuer: string;
  /** When set, subject tokens must list it in `aud`. */
  readonly audience: string | undefined;
  /** A JWK Set file (re-read when it changes) or an HTTPS URL (fetched periodically). */
  readonly jwks: { readonly file: string } | { readonly url: string; readonly caFile?: string };
}

/** Where a key-encryption key or a password comes from: a file, or an environment variable. */
export type SecretSource = { readonly file: string } | { readonly env: string };

/** `secrets:` settings (docs/secrets.md). */
export interface SecretsConfig {
  /** `host:port` of the HTTPS listener (Vault KV v2 paths; mTLS optional, tokens accepted). */
  readonly address: string;
  /** Audiences a JWT-SVID must name to authenticate here (none: `spiffe://<td>/parley/secrets`). */
  readonly audiences: readonly string[];
  /** Lifetime of a token from `POST /v1/auth/spiffe/login`. */
  readonly tokenTtl: Duration;
  /**
   * Key-encryption keys (base64 of 32 bytes each), the first wrapping new data keys; empty: a
   * key generated in `<dataDir>/secrets/kek-default` on first start.
   */
  readonly keys: readonly { readonly id: string; readonly source: SecretSource }[];
  /** How often previous versions whose grace has ended are revoked. */
  readonly revokeInterval: Duration;
  /** PostgreSQL servers whose logins Parley rotates (`parley secret rotate --database`). */
  readonly databases: readonly SecretsDatabase[];
}

/** A PostgreSQL server and the administrator login Parley rotates role passwords with. */
export interface SecretsDatabase {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: SecretSource | undefined;
  /** The two login roles Parley alternates between (both members of the role holding the grants). */
  readonly roles: readonly [string, string];
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
  const secrets = r.object('secrets');
  const tokens = r.object('tokens');
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
    secrets: secrets === undefined ? undefined : readSecretsConfig(secrets, trustDomain, path),
    tokens: tokens === undefined ? undefined : readTokensConfig(tokens, path),
  };
}

function readTokensConfig(r: ObjectReader, path: (p: string) => string): TokensConfig {
  const signing = r.object('signing');
  const issuer = r.optionalString('issuer');
  if (issuer !== undefined && !/^https:\/\/[^/?#]+(\/[^?#]*)?$/.test(issuer)) {
    r.problem('issuer', 'must be an https URL without query or fragment (RFC 8414 §2)');
  }
  const rotateEvery =
    signing?.duration('rotateEvery', parseDuration('24h')) ?? parseDuration('24h');
  const overlap = signing?.duration('overlap', parseDuration('1h')) ?? parseDuration('1h');
  if (signing !== undefined && overlap >= rotateEvery) {
    signing.problem('overlap', 'must be shorter than rotateEvery');
  }
  const subjectIssuers = r.objects('subjectIssuers').map((s): SubjectIssuerConfig => {
    const file = s.optionalString('jwksFile');
    const url = s.optionalString('jwksUrl');
    const caFile = s.optionalString('caFile');
    if ((file === undefined) === (url === undefined)) {
      s.problem('jwksFile', 'give jwksFile or jwksUrl (one of them)');
    }
    if (url !== undefined && !url.startsWith('https://'))
      s.problem('jwksUrl', 'must be an https URL');
    return {
      issuer: s.string('issuer'),
      audience: s.optionalString('audience'),
      jwks:
        file !== undefined
          ? { file: path(file) }
          : { url: url ?? '', ...(caFile !== undefined && { caFile: path(caFile) }) },
    };
  });
  return {
    address: r.string('address', '127.0.0.1:8443'),
    issuer,
    signing: {
      alg: signing?.oneOf('alg', ['ES256', 'RS256'] as const, 'ES256') ?? 'ES256',
      rotateEvery,
      overlap,
      // Twice the JWK Set's cache lifetime (60 s): validators hold a key before it signs.
      publishLead: signing?.duration('publishLead', parseDuration('2m')) ?? parseDuration('2m'),
    },
    maxTokenTtl: r.duration('maxTokenTtl', parseDuration('1h')),
    maxAssertionLifetime: r.duration('maxAssertionLifetime', parseDuration('15m')),
    subjectIssuers,
  };
}

function secretSource(r: ObjectReader, key: string, path: (p: string) => string) {
  const file = r.optionalString(`${key}File`);
  const env = r.optionalString(`${key}Env`);
  if (file !== undefined && env !== undefined)
    r.problem(`${key}File`, `give ${key}File or ${key}Env, not both`);
  return file !== undefined ? { file: path(file) } : env !== undefined ? { env } : undefined;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function twoRoles(r: ObjectReader): readonly [string, string] {
  const roles = r.array('roles', (v) => (typeof v === 'string' ? v : ''));
  const [a = '', b = ''] = roles;
  if (roles.length !== 2 || a === b || !ROLE_NAME.test(a) || !ROLE_NAME.test(b)) {
    r.problem('roles', 'must name two different roles (lower-case PostgreSQL identifiers)');
  }
  return [a, b];
}

function readSecretsConfig(
  r: ObjectReader,
  trustDomain: TrustDomain,
  path: (p: string) => string,
): SecretsConfig {
  const keys = r.objects('keys').map((k, i) => {
    const source = secretSource(k, 'key', path);
    if (source === undefined) k.problem('', 'needs keyFile or keyEnv');
    return { id: k.string('id', `key-${i}`), source: source ?? { env: '' } };
  });
  const audiences = r.has('audiences')
    ? r.array('audiences', (v) => (typeof v === 'string' ? v : ''))
    : [];
  if (audiences.some((a) => a === '')) r.problem('audiences', 'must be non-empty strings');
  const databases = r.objects('databases').map((d) => ({
    name: d.string('name'),
    host: d.string('host', '127.0.0.1'),
    port: d.integer('port', 5432, 1, 65535),
    database: d.string('database', 'postgres'),
    user: d.string('user'),
    password: secretSource(d, 'password', path),
    roles: twoRoles(d),
  }));
  return {
    address: r.string('address', '127.0.0.1:8200'),
    audiences: audiences.length > 0 ? audiences : [`${trustDomain.idString()}/parley/secrets`],
    tokenTtl: r.duration('tokenTtl', parseDuration('15m')),
    keys,
    revokeInterval: r.duration('revokeInterval', parseDuration('1s')),
    databases,
  };
}
