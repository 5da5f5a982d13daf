import { type KeyObject, type JsonWebKey, createPrivateKey, createPublicKey } from 'node:crypto';
import { stat } from 'node:fs/promises';
import {
  type CallOptions,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
  Metadata,
  credentials,
  status,
} from '@grpc/grpc-js';
import {
  type JwtBundlesResponse,
  type JwtSvidRequest,
  type JwtSvidResponse,
  type ValidateJwtSvidRequest,
  type ValidateJwtSvidResponse,
  type X509SvidMessage,
  type X509SvidResponse,
  WORKLOAD_API_HEADER,
  loadWorkloadApi,
} from '@parley/api';
import {
  type Bundle,
  type Certificate,
  type Clock,
  type Duration,
  type ErrorCode,
  type SpiffeId,
  type TrustDomain,
  MAX_CHAIN_LENGTH,
  ParleyError,
  bundleSet,
  certificatePublicKey,
  durationMs,
  formatDuration,
  isJsonArray,
  isJsonObject,
  parseCertificate,
  parseJson,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
  verifyX509Svid,
} from '@parley/core';

/** The agent socket of the local mesh, used when neither `--socket` nor the environment names one. */
export const DEFAULT_AGENT_SOCKET = './.parley/agent.sock';

/** How long a fetch or validate call waits for the agent's answer unless told otherwise. */
export const DEFAULT_WORKLOAD_TIMEOUT: Duration = durationMs(5_000);

const MAX_MESSAGE_LENGTH = 300;
/** Bundles with more authorities than this are refused (far beyond any real trust domain). */
const MAX_BUNDLE_CERTIFICATES = 1_000;
/** JWT bundles larger than this are refused. */
const MAX_JWKS_BYTES = 1 << 20;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * The filesystem path of a Workload API address (SPIFFE Workload Endpoint §4): `unix:///PATH`,
 * `unix:/PATH` or a plain path. Other schemes (`tcp:`) and malformed `unix:` URIs are refused:
 * Parley's agent serves the Workload API on a Unix socket only.
 */
export function parseWorkloadSocketAddress(text: string): string {
  const shown = text.slice(0, 64);
  if (text === '' || text.includes('\0'))
    throw new ParleyError('invalid-argument', `invalid Workload API address "${shown}"`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1];
  if (scheme === undefined) return text;
  if (scheme.toLowerCase() !== 'unix') {
    throw new ParleyError(
      'invalid-argument',
      `the Workload API address "${shown}" is not a Unix socket (unix:///PATH)`,
    );
  }
  const rest = text.slice(scheme.length + 1);
  // `unix:///abs` has an empty authority; `unix:/abs` has none. Anything else names a host.
  const path = rest.startsWith('///') ? rest.slice(2) : rest.startsWith('//') ? '' : rest;
  if (!path.startsWith('/') || path.includes('?') || path.includes('#')) {
    throw new ParleyError(
      'invalid-argument',
      `the Workload API address "${shown}" must be unix:///ABSOLUTE/PATH`,
    );
  }
  return path;
}

/**
 * The Workload API socket to use (DESIGN §4): `flag` (`--socket`), else `SPIFFE_ENDPOINT_SOCKET`,
 * else the local mesh's `./.parley/agent.sock`.
 */
export function resolveWorkloadSocket(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return parseWorkloadSocketAddress(
    flag ?? (env['SPIFFE_ENDPOINT_SOCKET'] || undefined) ?? DEFAULT_AGENT_SOCKET,
  );
}

/** One X509-SVID as received, verified against the bundle of its trust domain. */
export interface FetchedX509Svid {
  readonly spiffeId: SpiffeId;
  /** The entry's hint ('' when none). */
  readonly hint: string;
  /** The certificates, leaf first. */
  readonly certificates: readonly Certificate[];
  /** The SVID's private key; it matches the leaf's public key. */
  readonly privateKey: KeyObject;
  /** The X.509 authorities of the SVID's own trust domain, as sent with it. */
  readonly bundle: Bundle;
  readonly expiresAt: number;
}

/** One FetchX509SVID message: every SVID of the caller, the default one first. */
export interface X509Context {
  readonly svids: readonly FetchedX509Svid[];
  /** The X.509 bundles of the trust domains the caller's entries federate with, by name. */
  readonly federatedBundles: readonly Bundle[];
}

/** A JWT-SVID as FetchJWTSVID returns it (not yet verified: see `verifyJwtSvid`). */
export interface FetchedJwtSvid {
  readonly spiffeId: SpiffeId;
  readonly hint: string;
  /** The token; never logged. */
  readonly token: string;
}

/** A JWT-SVID the agent validated: its SPIFFE ID and claims (plain JSON). */
export interface ValidatedJwtSvid {
  readonly spiffeId: SpiffeId;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What a Workload API client needs besides the socket. */
export interface WorkloadClientOptions {
  /** The time SVIDs are verified at and deadlines are set from (default: the system clock). */
  readonly clock?: Clock;
  /** How long a fetch or validate waits for an answer (default 5 s); watches have no deadline. */
  readonly timeout?: Duration;
}

/**
 * A client of the SPIFFE Workload API on a Unix socket. Every call carries the security header;
 * every answer is parsed at this edge, and X509-SVIDs that do not verify against their bundle are
 * refused (fail closed). Failures are ParleyErrors whose message names the gRPC status.
 */
export interface WorkloadClient {
  readonly socketPath: string;
  /** The first message of FetchX509SVID. */
  fetchX509Context(signal?: AbortSignal): Promise<X509Context>;
  /** Every message of FetchX509SVID until `signal` aborts (then it returns) or the stream fails. */
  watchX509Contexts(signal: AbortSignal): AsyncGenerator<X509Context, void, undefined>;
  /** FetchJWTSVID for `audience` (one SVID per identity, or only `spiffeId`'s). */
  fetchJwtSvids(
    audience: readonly string[],
    spiffeId?: SpiffeId,
    signal?: AbortSignal,
  ): Promise<readonly FetchedJwtSvid[]>;
  /** The first message of FetchJWTBundles: JWT bundles (no X.509 authorities), by trust domain. */
  fetchJwtBundles(signal?: AbortSignal): Promise<readonly Bundle[]>;
  /** ValidateJWTSVID: the agent checks `token` for `audience` against the bundles it trusts. */
  validateJwtSvid(audience: string, token: string, signal?: AbortSignal): Promise<ValidatedJwtSvid>;
  /** Closes the connection. */
  close(): void;
}

type Callback<T> = (err: ServiceError | null, response?: T) => void;

interface RawWorkloadClient extends Client {
  FetchX509SVID(
    request: object,
    metadata: Metadata,
    options: CallOptions,
  ): ClientReadableStream<X509SvidResponse>;
  FetchJWTBundles(
    request: object,
    metadata: Metadata,
    options: CallOptions,
  ): ClientReadableStream<JwtBundlesResponse>;
  FetchJWTSVID(
    request: JwtSvidRequest,
    metadata: Metadata,
    options: CallOptions,
    callback: Callback<JwtSvidResponse>,
  ): ClientUnaryCall;
  ValidateJWTSVID(
    request: ValidateJwtSvidRequest,
    metadata: Metadata,
    options: CallOptions,
    callback: Callback<ValidateJwtSvidResponse>,
  ): ClientUnaryCall;
}

// gRPC status codes by the names gRPC gives them (as SPIRE and go-spiffe print them), and the
// ParleyError code each becomes.
const STATUS: Readonly<Record<number, readonly [string, ErrorCode]>> = {
  [status.CANCELLED]: ['Canceled', 'unavailable'],
  [status.UNKNOWN]: ['Unknown', 'internal'],
  [status.INVALID_ARGUMENT]: ['InvalidArgument', 'invalid-argument'],
  [status.DEADLINE_EXCEEDED]: ['DeadlineExceeded', 'deadline-exceeded'],
  [status.NOT_FOUND]: ['NotFound', 'not-found'],
  [status.ALREADY_EXISTS]: ['AlreadyExists', 'already-exists'],
  [status.PERMISSION_DENIED]: ['PermissionDenied', 'permission-denied'],
  [status.RESOURCE_EXHAUSTED]: ['ResourceExhausted', 'resource-exhausted'],
  [status.FAILED_PRECONDITION]: ['FailedPrecondition', 'failed-precondition'],
  [status.ABORTED]: ['Aborted', 'unavailable'],
  [status.OUT_OF_RANGE]: ['OutOfRange', 'invalid-argument'],
  [status.UNIMPLEMENTED]: ['Unimplemented', 'unimplemented'],
  [status.INTERNAL]: ['Internal', 'internal'],
  [status.UNAVAILABLE]: ['Unavailable', 'unavailable'],
  [status.DATA_LOSS]: ['DataLoss', 'internal'],
  [status.UNAUTHENTICATED]: ['Unauthenticated', 'unauthenticated'],
};

/** Text from the agent as one safe line: control characters become spaces, long text is cut. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is being replaced
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length > MAX_MESSAGE_LENGTH ? `${flat.slice(0, MAX_MESSAGE_LENGTH)}…` : flat;
}

function statusError(code: number, details: string): ParleyError {
  const [name, errorCode] = STATUS[code] ?? ['Unknown', 'internal'];
  return new ParleyError(errorCode, `${name}: ${oneLine(details) || 'no details'}`);
}

/** A malformed answer from the agent: refused, whatever else it holds. */
function badAnswer(what: string, cause?: unknown): ParleyError {
  const why = cause instanceof Error ? `: ${oneLine(cause.message)}` : '';
  return new ParleyError('internal', `the Workload API sent ${what}${why}`);
}

/** Splits concatenated DER structures (the Workload API's encoding of certificate lists). */
function splitDer(bytes: Uint8Array, what: string, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (out.length === max) throw badAnswer(`${what} with more than ${max} certificates`);
    const first = bytes[at + 1];
    if (bytes[at] !== 0x30 || first === undefined) throw badAnswer(`${what} that is not DER`);
    let length = first;
    let header = 2;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 3 || at + 2 + n > bytes.length)
        throw badAnswer(`${what} with a bad DER length`);
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + (bytes[at + 2 + i] ?? 0);
      header = 2 + n;
    }
    const end = at + header + length;
    if (end > bytes.length) throw badAnswer(`${what} with a truncated certificate`);
    out.push(bytes.subarray(at, end));
    at = end;
  }
  if (out.length === 0) throw badAnswer(`${what} without certificates`);
  return out;
}

function x509Bundle(td: TrustDomain, der: Uint8Array, what: string): Bundle {
  const x509Authorities = splitDer(der, what, MAX_BUNDLE_CERTIFICATES).map((cert) => {
    try {
      return parseCertificate(cert);
    } catch (err) {
      throw badAnswer(what, err);
    }
  });
  return { trustDomain: td, x509Authorities, jwtAuthorities: new Map() };
}

/** A bundle map key: a trust domain ID (`spiffe://example.org`) or, leniently, a bare name. */
function trustDomainOfKey(key: string): TrustDomain {
  try {
    return parseTrustDomain(key.startsWith('spiffe://') ? key.slice('spiffe://'.length) : key);
  } catch (err) {
    throw badAnswer(`a bundle for an invalid trust domain "${oneLine(key.slice(0, 64))}"`, err);
  }
}

function parseId(text: string, what: string): SpiffeId {
  try {
    return parseSpiffeId(text);
  } catch (err) {
    throw badAnswer(`an invalid SPIFFE ID for ${what}`, err);
  }
}

/** Parses and verifies one X509-SVID of a FetchX509SVID message (X509-SVID §5, fail closed). */
function x509SvidOf(message: X509SvidMessage, index: number, clock: Clock): FetchedX509Svid {
  const spiffeId = parseId(message.spiffe_id, `X509-SVID #${index}`);
  const id = spiffeId.toString();
  const chain = splitDer(message.x509_svid, `an X509-SVID for ${id}`, MAX_CHAIN_LENGTH);
  const bundle = x509Bundle(spiffeId.trustDomain, message.bundle, `the bundle for ${id}`);
  const verified = verifyX509Svid(chain, bundleSet(bundle), clock);
  if (!verified.ok) {
    throw new ParleyError(
      'failed-precondition',
      `the X509-SVID for ${id} does not verify against its bundle: ${oneLine(verified.reason)}`,
    );
  }
  if (!verified.svid.spiffeId.equals(spiffeId)) {
    throw badAnswer(`an X509-SVID for ${verified.svid.spiffeId.toString()} labelled as ${id}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: Buffer.from(message.x509_svid_key),
      format: 'der',
      type: 'pkcs8',
    });
  } catch {
    throw badAnswer(`a private key for ${id} that is not PKCS#8`);
  }
  const leaf = verified.svid.certificates[0] as Certificate;
  if (!certificatePublicKey(leaf).equals(createPublicKey(privateKey)))
    throw badAnswer(`a private key for ${id} that does not match its certificate`);
  return {
    spiffeId,
    hint: message.hint,
    certificates: verified.svid.certificates,
    privateKey,
    bundle,
    expiresAt: verified.svid.expiresAt,
  };
}

/** Parses and verifies a FetchX509SVID message. */
function x509ContextOf(message: X509SvidResponse, clock: Clock): X509Context {
  // Workload API §5.2.1: a caller with no identity gets PermissionDenied, never an empty list.
  if (message.svids.length === 0) throw badAnswer('an X509-SVID response without SVIDs');
  const federatedBundles = Object.entries(message.federated_bundles)
    .map(([key, der]) => {
      const td = trustDomainOfKey(key);
      return x509Bundle(td, der, `the federated bundle of ${td.name}`);
    })
    .sort((a, b) => (a.trustDomain.name < b.trustDomain.name ? -1 : 1));
  return { svids: message.svids.map((m, i) => x509SvidOf(m, i, clock)), federatedBundles };
}

/** Parses one JWT bundle (an RFC 7517 JWK Set whose keys all carry a `kid`). */
function jwtBundleOf(key: string, jwks: Uint8Array): Bundle {
  const td = trustDomainOfKey(key);
  const what = `a JWT bundle for ${td.name}`;
  if (jwks.length > MAX_JWKS_BYTES) throw badAnswer(`${what} over ${MAX_JWKS_BYTES} bytes`);
  let doc;
  try {
    doc = parseJson(Buffer.from(jwks).toString('utf8'), { maxLength: MAX_JWKS_BYTES });
  } catch (err) {
    throw badAnswer(what, err);
  }
  const keys = isJsonObject(doc) ? doc.get('keys') : undefined;
  if (!isJsonArray(keys)) throw badAnswer(`${what} without a "keys" array`);
  const jwtAuthorities = new Map<string, KeyObject>();
  keys.forEach((entry, i) => {
    if (!isJsonObject(entry)) throw badAnswer(`${what} whose keys[${i}] is not an object`);
    const kid = entry.get('kid');
    if (typeof kid !== 'string' || kid === '' || jwtAuthorities.has(kid))
      throw badAnswer(`${what} whose keys[${i}] has a missing or duplicate kid`);
    if (PRIVATE_JWK_MEMBERS.some((m) => entry.has(m)))
      throw badAnswer(`${what} with private key material`);
    const jwk: Record<string, string> = {};
    for (const [name, value] of entry) if (typeof value === 'string') jwk[name] = value;
    try {
      jwtAuthorities.set(kid, createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
    } catch {
      throw badAnswer(`${what} whose keys[${i}] is not a valid public key`);
    }
  });
  return { trustDomain: td, x509Authorities: [], jwtAuthorities };
}

type ProtoValue = Readonly<Record<string, unknown>>;

/** `google.protobuf.Value` as proto-loader decodes it, as plain JSON. */
function valueToJson(value: ProtoValue, depth: number): unknown {
  if (depth > 64) throw badAnswer('claims nested too deeply');
  const kind = typeof value['kind'] === 'string' ? value['kind'] : undefined;
  const has = (member: string) => (kind === undefined ? value[member] != null : kind === member);
  if (has('structValue')) return structToJson(value['structValue'] as ProtoValue, depth + 1);
  if (has('listValue')) {
    const list = (value['listValue'] as { values?: ProtoValue[] } | null)?.values ?? [];
    return list.map((v) => valueToJson(v, depth + 1));
  }
  if (has('stringValue')) return value['stringValue'];
  if (has('numberValue')) return value['numberValue'];
  if (has('boolValue')) return value['boolValue'];
  return null;
}

/** `google.protobuf.Struct` as proto-loader decodes it, as a plain JSON object. */
function structToJson(struct: ProtoValue | null | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct?.['fields'] ?? {}) as Readonly<Record<string, ProtoValue>>;
  for (const [name, value] of Object.entries(fields)) {
    Object.defineProperty(out, name, {
      value: valueToJson(value, depth),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * Checks that `socketPath` is a socket before dialling it, so a missing agent is reported as
 * such rather than as a gRPC connection failure.
 */
async function checkSocket(socketPath: string): Promise<void> {
  const where = `Workload API socket ${socketPath}`;
  try {
    if (!(await stat(socketPath)).isSocket())
      throw new ParleyError('invalid-argument', `the ${where} is not a socket`);
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    switch ((err as NodeJS.ErrnoException).code) {
      case 'ENOENT':
      case 'ENOTDIR':
        throw new ParleyError(
          'unavailable',
          `no ${where} (is the agent running? name it with --socket or SPIFFE_ENDPOINT_SOCKET)`,
        );
      case 'EACCES':
      case 'EPERM':
        throw new ParleyError('permission-denied', `no permission to use the ${where}`);
      default:
        throw new ParleyError('unavailable', `cannot use the ${where}: ${oneLine(String(err))}`);
    }
  }
}

/** A client of the SPIFFE Workload API at the Unix socket `socketPath`. */
export function workloadClient(
  socketPath: string,
  options: WorkloadClientOptions = {},
): WorkloadClient {
  const clock = options.clock ?? systemClock;
  const timeout = options.timeout ?? DEFAULT_WORKLOAD_TIMEOUT;
  const Ctor = loadWorkloadApi().SpiffeWorkloadAPI;
  // grpc-js takes the path of `unix:PATH` as given, relative or absolute.
  const raw = new Ctor(
    `unix:${socketPath}`,
    credentials.createInsecure(),
  ) as unknown as RawWorkloadClient;
  let ready: Promise<void> | undefined;
  const whenReady = () => (ready ??= checkSocket(socketPath));

  const metadata = (): Metadata => {
    const md = new Metadata();
    md.set(WORKLOAD_API_HEADER, 'true');
    return md;
  };
  const deadline = (): CallOptions => ({ deadline: clock.now() + timeout });

  /** The failure of a call, as a ParleyError naming its status. */
  function failure(err: unknown, signal: AbortSignal | undefined): ParleyError {
    if (err instanceof ParleyError) return err;
    const e = err as Partial<ServiceError>;
    if (typeof e.code !== 'number') return badAnswer('an answer that could not be read', err);
    if (e.code === status.CANCELLED && signal?.aborted === true)
      return statusError(status.CANCELLED, 'interrupted');
    if (e.code === status.DEADLINE_EXCEEDED) {
      return statusError(
        e.code,
        `no answer from the Workload API at ${socketPath} within ${formatDuration(timeout)}`,
      );
    }
    // grpc-js's own connection failures start so; the agent's answers never do.
    if (e.code === status.UNAVAILABLE && (e.details ?? '').startsWith('No connection established'))
      return statusError(
        e.code,
        `cannot connect to the Workload API at ${socketPath} (is the agent running?)`,
      );
    return statusError(e.code, e.details ?? '');
  }

  /** Reads a server stream message by message; returns when `signal` aborts. */
  async function* read<T>(
    open: () => ClientReadableStream<T>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<T, void, undefined> {
    // A function, not a narrowed property: the signal aborts while this generator waits.
    const aborted = () => signal?.aborted === true;
    await whenReady();
    if (aborted()) return;
    const call = open();
    // grpc-js reports the end of a cancelled call as an 'error' event after the reader is gone.
    call.on('error', () => undefined);
    const cancel = () => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const message of call as AsyncIterable<T>) {
        if (aborted()) return;
        yield message;
      }
    } catch (err) {
      if (aborted() && !(err instanceof ParleyError)) return;
      throw failure(err, signal);
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
    if (!aborted()) throw statusError(status.UNAVAILABLE, 'the stream ended');
  }

  /** The first message of a stream, within the deadline. */
  async function first<T>(
    open: () => ClientReadableStream<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for await (const message of read(open, signal)) return message;
    throw failure({ code: status.CANCELLED }, signal);
  }

  function unary<Res>(
    start: (metadata: Metadata, options: CallOptions, callback: Callback<Res>) => ClientUnaryCall,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return whenReady().then(
      () =>
        new Promise<Res>((resolve, reject) => {
          if (signal?.aborted === true) {
            reject(failure({ code: status.CANCELLED }, signal));
            return;
          }
          const cancel = () => call.cancel();
          const call = start(metadata(), deadline(), (err, response) => {
            signal?.removeEventListener('abort', cancel);
            if (err !== null || response === undefined) reject(failure(err, signal));
            else resolve(response);
          });
          signal?.addEventListener('abort', cancel, { once: true });
        }),
    );
  }

  return {
    socketPath,
    fetchX509Context: async (signal) =>
      x509ContextOf(
        await first(() => raw.FetchX509SVID({}, metadata(), deadline()), signal),
        clock,
      ),
    async *watchX509Contexts(signal) {
      for await (const message of read(() => raw.FetchX509SVID({}, metadata(), {}), signal))
        yield x509ContextOf(message, clock);
    },
    fetchJwtSvids: async (audience, spiffeId, signal) => {
      const request = { audience: [...audience], spiffe_id: spiffeId?.toString() ?? '' };
      const response = await unary<JwtSvidResponse>(
        (md, opts, cb) => raw.FetchJWTSVID(request, md, opts, cb),
        signal,
      );
      if (response.svids.length === 0) throw badAnswer('a JWT-SVID response without SVIDs');
      return response.svids.map((svid, i) => {
        if (svid.svid === '') throw badAnswer(`an empty JWT-SVID #${i}`);
        return {
          spiffeId: parseId(svid.spiffe_id, `JWT-SVID #${i}`),
          hint: svid.hint,
          token: svid.svid,
        };
      });
    },
    fetchJwtBundles: async (signal) => {
      const response = await first(() => raw.FetchJWTBundles({}, metadata(), deadline()), signal);
      return Object.entries(response.bundles)
        .map(([key, jwks]) => jwtBundleOf(key, jwks))
        .sort((a, b) => (a.trustDomain.name < b.trustDomain.name ? -1 : 1));
    },
    validateJwtSvid: async (audience, token, signal) => {
      const response = await unary<ValidateJwtSvidResponse>(
        (md, opts, cb) => raw.ValidateJWTSVID({ audience, svid: token }, md, opts, cb),
        signal,
      );
      return {
        spiffeId: parseId(response.spiffe_id, 'the validated JWT-SVID'),
        claims: structToJson(response.claims),
      };
    },
    close: () => raw.close(),
  };
}
