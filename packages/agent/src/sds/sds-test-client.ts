import type { Client } from '@grpc/grpc-js';
import {
  type ClientDuplexStream,
  type ClientUnaryCall,
  type ServiceError,
  Metadata,
  credentials,
} from '@grpc/grpc-js';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  type ProtoObject,
  XDS_TYPE_URL,
  decodeAny,
  loadXdsServices,
} from '@parley/api';
import { StreamReader } from '../workload-api/workload-api-test-client.js';

/** A raw grpc-js client of SDS, for tests. */
export interface SdsTestClient extends Client {
  StreamSecrets(metadata?: Metadata): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  DeltaSecrets(metadata?: Metadata): ClientDuplexStream<unknown, unknown>;
  FetchSecrets(
    request: Partial<DiscoveryRequest>,
    metadata: Metadata,
    callback: (err: ServiceError | null, response?: DiscoveryResponse) => void,
  ): ClientUnaryCall;
}

/** An SDS client of the Unix socket `path`. */
export function sdsTestClient(path: string): SdsTestClient {
  const Ctor = loadXdsServices().SecretDiscoveryService;
  return new Ctor(`unix://${path}`, credentials.createInsecure()) as unknown as SdsTestClient;
}

/** Metadata naming the test caller in `x-test-caller` (SDS callers send no security header). */
export function sdsMetadata(caller?: string): Metadata {
  const md = new Metadata();
  if (caller !== undefined) md.set('x-test-caller', caller);
  return md;
}

/** A Secret as decoded from a response, with its PEM fields as text. */
export interface DecodedSecret {
  readonly name: string;
  /** The certificate chain PEM of a tls_certificate. */
  readonly chain?: string;
  /** The private key PEM of a tls_certificate. */
  readonly key?: string;
  /** The SPIFFE validator's trust domains of a validation_context, name → PEM. */
  readonly trustDomains?: ReadonlyMap<string, string>;
  /** The value of a generic_secret (token egress: `Bearer <JWT-SVID>`). */
  readonly generic?: string;
}

const text = (base64: unknown): string => Buffer.from(String(base64), 'base64').toString();

/** Decodes the Secrets of an SDS response. */
export function decodeSecrets(response: DiscoveryResponse): DecodedSecret[] {
  return response.resources.map((any) => {
    if (any.type_url !== XDS_TYPE_URL.secret) throw new Error(`unexpected ${any.type_url}`);
    const s = decodeAny(any) as ProtoObject & {
      name: string;
      tls_certificate?: {
        certificate_chain: { inline_bytes: string };
        private_key: { inline_bytes: string };
      };
      generic_secret?: { secret: { inline_string: string } };
      validation_context?: {
        custom_validator_config: {
          name: string;
          typed_config: {
            trust_domains: { name: string; trust_bundle: { inline_bytes: string } }[];
          };
        };
      };
    };
    if (s.tls_certificate !== undefined) {
      return {
        name: s.name,
        chain: text(s.tls_certificate.certificate_chain.inline_bytes),
        key: text(s.tls_certificate.private_key.inline_bytes),
      };
    }
    if (s.generic_secret !== undefined) {
      return { name: s.name, generic: s.generic_secret.secret.inline_string };
    }
    const config = s.validation_context?.custom_validator_config;
    if (config?.name !== 'envoy.tls.cert_validator.spiffe') throw new Error('no SPIFFE validator');
    return {
      name: s.name,
      trustDomains: new Map(
        config.typed_config.trust_domains.map((td) => [
          td.name,
          text(td.trust_bundle.inline_bytes),
        ]),
      ),
    };
  });
}

/** One SDS stream of a test: send requests, read responses with deadlines. */
export class SdsTestStream {
  readonly reader: StreamReader<DiscoveryResponse>;

  constructor(readonly call: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>) {
    this.reader = new StreamReader<DiscoveryResponse>(call);
  }

  /**
   * Sends a request for `names` carrying `ack`: the version last accepted and the nonce of the
   * last response received (a whole response when it ACKs that response).
   */
  request(
    names: readonly string[],
    ack?: Pick<DiscoveryResponse, 'version_info' | 'nonce'>,
    errorDetail?: { code: number; message: string },
  ): void {
    this.call.write({
      version_info: ack?.version_info ?? '',
      node: { id: 'test', cluster: 'test', metadata: null, user_agent_name: 'test' },
      resource_names: [...names],
      type_url: XDS_TYPE_URL.secret,
      response_nonce: ack?.nonce ?? '',
      error_detail: errorDetail ?? null,
    });
  }

  /** The next response. */
  next(timeoutMs = 5000): Promise<DiscoveryResponse> {
    return this.reader.next(timeoutMs);
  }

  /** Resolves when no response arrives within `ms`; rejects when one does. */
  async nothingFor(ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.reader.buffered > 0) throw new Error('unexpected SDS response');
  }

  /** Ends the stream. */
  close(): void {
    this.call.cancel();
  }
}
