// A static Envoy for the RBAC agreement test: one mTLS listener per workload, each with the HTTP
// connection manager's normalization settings, the compiled RBAC filters and a direct 200
// answer, and an access log of what the filters saw and decided (written out when Envoy stops).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { type ProtoObject, checkMessage, toProto3Json } from '@parley/api';
import { type Envoy, startEnvoy } from '@parley/testing';

/** One access-log entry: what the filters saw and what the RBAC filters wrote. */
export interface LogEntry {
  /** The `:path` after Envoy's normalization. */
  readonly path: string;
  readonly authority: string;
  /** `%RESPONSE_CODE_DETAILS%`, e.g. `rbac_access_denied_matched_policy[p/r]`. */
  readonly details: string;
  /** The `envoy.filters.http.rbac` dynamic metadata. */
  readonly rbac: Readonly<Record<string, string>>;
}

const ACCESS_LOG = 'access.log';

/** The access log of an Envoy started by `startRbacEnvoy` (after it stopped), by request id. */
export async function readAccessLog(dir: string): Promise<Map<string, LogEntry>> {
  const text = await readFile(join(dir, ACCESS_LOG), 'utf8');
  const entries = new Map<string, LogEntry>();
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const { id, ...entry } = JSON.parse(line) as LogEntry & { id: string };
    entries.set(id, { ...entry, rbac: entry.rbac ?? {} });
  }
  return entries;
}

/** One inbound listener: a workload and the HTTP filters that decide its requests. */
export interface ListenerSpec {
  readonly name: string;
  readonly port: number;
  readonly filters: readonly { readonly name: string; readonly typed_config: ProtoObject }[];
}

/** Starts one Envoy serving every listener (mTLS with `serverCert`, clients of `trustedCa`). */
export async function startRbacEnvoy(options: {
  readonly dir: string;
  readonly listeners: readonly ListenerSpec[];
  readonly serverCert: string;
  readonly serverKey: string;
  readonly trustedCa: string;
}): Promise<Envoy> {
  const accessLog = {
    name: 'envoy.access_loggers.file',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
      path: join(options.dir, ACCESS_LOG),
      log_format: {
        json_format: {
          fields: {
            id: { stringValue: '%REQ(X-REQUEST-ID)%' },
            path: { stringValue: '%REQ(:PATH)%' },
            authority: { stringValue: '%REQ(:AUTHORITY)%' },
            details: { stringValue: '%RESPONSE_CODE_DETAILS%' },
            rbac: { stringValue: '%DYNAMIC_METADATA(envoy.filters.http.rbac)%' },
          },
        },
      },
    },
  };
  const listener = (l: ListenerSpec) => ({
    name: l.name,
    address: { socket_address: { address: '127.0.0.1', port_value: l.port } },
    filter_chains: [
      {
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
            require_client_certificate: { value: true },
            common_tls_context: {
              tls_certificates: [
                {
                  certificate_chain: { inline_string: options.serverCert },
                  private_key: { inline_string: options.serverKey },
                },
              ],
              validation_context: { trusted_ca: { inline_string: options.trustedCa } },
            },
          },
        },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: l.name,
              normalize_path: { value: true },
              merge_slashes: true,
              path_with_escaped_slashes_action: 'REJECT_REQUEST',
              always_set_request_id_in_response: true,
              access_log: [accessLog],
              route_config: {
                virtual_hosts: [
                  {
                    name: 'any',
                    domains: ['*'],
                    routes: [
                      {
                        match: { prefix: '/' },
                        direct_response: { status: 200, body: { inline_string: 'ok' } },
                      },
                    ],
                  },
                ],
              },
              http_filters: [
                ...l.filters,
                {
                  name: 'envoy.filters.http.router',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  });
  const bootstrap = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { listeners: options.listeners.map(listener) },
  };
  const problems = checkMessage('envoy.config.bootstrap.v3.Bootstrap', bootstrap);
  if (problems.length > 0) throw new Error(`bad bootstrap: ${problems.join('; ')}`);
  return startEnvoy({
    dir: options.dir,
    name: 'rbac',
    bootstrap: toProto3Json('envoy.config.bootstrap.v3.Bootstrap', bootstrap),
    waitLive: true,
    concurrency: 2,
  });
}

/** An HTTP/1.1 response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  /** Header names lower-case; repeated headers keep every value. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

/**
 * Sends `request` (exact bytes, Latin-1) over a new mTLS connection presenting `cert`/`key`, from
 * `localAddress`, and reads one answer (head and `content-length` body).
 */
export function sendRaw(options: {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly localAddress?: string;
  readonly request: string;
}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: options.port,
      cert: options.cert,
      key: options.key,
      ca: options.ca,
      checkServerIdentity: () => undefined,
      ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no answer within 5 s to ${JSON.stringify(options.request.split('\r\n')[0])}`),
      );
    }, 5_000);
    let done = false;
    // Envoy waits for the client to close first (delayed close): stop once the answer is whole.
    const finish = () => {
      if (done) return;
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
      const headers = new Map<string, string[]>();
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const name = line.slice(0, i).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
      }
      // A HEAD answer has the length of the body it does not carry.
      const length = options.request.startsWith('HEAD ')
        ? 0
        : Number(headers.get('content-length')?.[0] ?? 0);
      if (Buffer.byteLength(text.slice(end + 4), 'latin1') < length) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers });
    };
    socket.on('secureConnect', () => socket.write(Buffer.from(options.request, 'latin1')));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      finish();
    });
    socket.on('error', (err: Error) => {
      if (done) return;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      finish();
      if (!done) {
        clearTimeout(timer);
        reject(
          new Error(
            `the connection closed before an answer to ${JSON.stringify(options.request.split('\r\n')[0])}`,
          ),
        );
      }
    });
  });
}
