import { request } from 'node:https';

/** An X509-SVID as PEM: the certificate chain and its key. */
export interface Svid {
  readonly cert: string;
  readonly key: string;
}

/** A status and body from the secrets listener. */
export interface Answer {
  readonly status: number;
  readonly body: string;
}

/**
 * One HTTPS request to the secrets listener on 127.0.0.1:`port` (server name `localhost`,
 * trusting `ca`), with a token, a client SVID or neither, and a JSON body.
 */
export function secretsRequest(
  port: number,
  ca: string,
  method: string,
  path: string,
  options: { token?: string | undefined; svid?: Svid; body?: unknown } = {},
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        method,
        path,
        ca,
        ...(options.svid !== undefined && { cert: options.svid.cert, key: options.svid.key }),
        headers: {
          ...(options.token !== undefined && { 'x-vault-token': options.token }),
          ...(payload !== undefined && { 'content-type': 'application/json' }),
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
