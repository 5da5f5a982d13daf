import {
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
  Metadata,
  Server,
  ServerCredentials,
  credentials,
} from '@grpc/grpc-js';
import {
  type JwtBundlesResponse,
  type JwtSvidRequest,
  type JwtSvidResponse,
  type ValidateJwtSvidRequest,
  type ValidateJwtSvidResponse,
  type X509BundlesResponse,
  type X509SvidResponse,
  WORKLOAD_API_HEADER,
  loadWorkloadApi,
} from '@parley/api';
import type { WorkloadApiService } from './workload-api-service.js';

type Callback<T> = (err: ServiceError | null, response?: T) => void;

/** A raw grpc-js client of the Workload API, for tests that need control over the metadata. */
export interface WorkloadApiTestClient extends Client {
  FetchX509SVID(request: object, metadata: Metadata): ClientReadableStream<X509SvidResponse>;
  FetchX509Bundles(request: object, metadata: Metadata): ClientReadableStream<X509BundlesResponse>;
  FetchJWTBundles(request: object, metadata: Metadata): ClientReadableStream<JwtBundlesResponse>;
  FetchJWTSVID(
    request: Partial<JwtSvidRequest>,
    metadata: Metadata,
    callback: Callback<JwtSvidResponse>,
  ): ClientUnaryCall;
  ValidateJWTSVID(
    request: Partial<ValidateJwtSvidRequest>,
    metadata: Metadata,
    callback: Callback<ValidateJwtSvidResponse>,
  ): ClientUnaryCall;
  FetchWITSVID(request: object, metadata: Metadata): ClientReadableStream<unknown>;
  FetchWITBundles(request: object, metadata: Metadata): ClientReadableStream<unknown>;
}

/** Serves `service` on a Unix socket at `path`; resolves with the started server. */
export async function serveWorkloadApi(path: string, service: WorkloadApiService): Promise<Server> {
  const server = new Server();
  server.addService(loadWorkloadApi().SpiffeWorkloadAPI.service, service);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return server;
}

/** A client of the Workload API at the Unix socket `path`. */
export function workloadApiTestClient(
  path: string,
  options: ChannelOptions = {},
): WorkloadApiTestClient {
  const Ctor = loadWorkloadApi().SpiffeWorkloadAPI;
  return new Ctor(
    `unix://${path}`,
    credentials.createInsecure(),
    options,
  ) as unknown as WorkloadApiTestClient;
}

/**
 * Call metadata: the security header `headerCount` times (default once) and, when given, the
 * test's caller name in `x-test-caller`.
 */
export function callMetadata(caller?: string, headerCount = 1, headerValue = 'true'): Metadata {
  const md = new Metadata();
  for (let i = 0; i < headerCount; i++) md.add(WORKLOAD_API_HEADER, headerValue);
  if (caller !== undefined) md.set('x-test-caller', caller);
  return md;
}

/** Reads a server stream message by message, with a deadline on every wait. */
export class StreamReader<T> {
  readonly #queue: T[] = [];
  #error: ServiceError | undefined;
  #wake: (() => void) | undefined;

  constructor(readonly stream: ClientReadableStream<T>) {
    stream.on('data', (m: T) => {
      this.#queue.push(m);
      this.#wake?.();
    });
    stream.on('error', (err: ServiceError) => {
      this.#error = err;
      this.#wake?.();
    });
  }

  /** Messages received and not yet read. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** The next message; rejects with the stream's error or after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<T> {
    await this.#until(() => this.#queue.length > 0 || this.#error !== undefined, timeoutMs);
    const m = this.#queue.shift();
    if (m !== undefined) return m;
    throw this.#error ?? new Error('stream ended without a message');
  }

  /** The status the stream ended with (after any buffered messages). */
  async status(timeoutMs = 5000): Promise<ServiceError> {
    await this.#until(() => this.#error !== undefined, timeoutMs);
    return this.#error as ServiceError;
  }

  #until(ready: () => boolean, timeoutMs: number): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        reject(new Error(`no stream event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#wake = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}

/** Calls a unary method; resolves with its response or rejects with its ServiceError. */
export function callUnary<Req, Res>(
  method: (request: Req, metadata: Metadata, callback: Callback<Res>) => ClientUnaryCall,
  request: Req,
  metadata: Metadata,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, metadata, (err, response) => {
      if (err !== null) reject(err);
      else resolve(response as Res);
    });
  });
}
