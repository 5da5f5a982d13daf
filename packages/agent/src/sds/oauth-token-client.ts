import { request } from 'node:https';
import { type Bundle, encodePem } from '@parley/core';
import type { WorkloadX509Svid } from '../workload-api/workload-api-deps.js';

const MAX_RESPONSE_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;

/** Obtains access tokens from Parley's token endpoint for workloads (token egress). */
export interface OAuthTokenClient {
  /**
   * An access token for `audience` and `scopes` (client credentials), the workload
   * authenticated by `svid` over mTLS (RFC 8705), the server verified by `bundle`.
   */
  token(
    svid: WorkloadX509Svid,
    bundle: Bundle,
    audience: string,
    scopes: readonly string[],
  ): Promise<string>;
}

/**
 * A client of the token endpoint `tokenEndpoint` (an https URL): each call is one POST with the
 * workload's SVID as client certificate. Errors name the endpoint and the OAuth error code, never
 * a token.
 */
export function createOAuthTokenClient(tokenEndpoint: string): OAuthTokenClient {
  const url = new URL(tokenEndpoint);
  if (url.protocol !== 'https:') throw new RangeError('the token endpoint must be an https URL');
  return {
    token: (svid, bundle, audience, scopes) =>
      new Promise((resolve, reject) => {
        const body = new URLSearchParams({
          grant_type: 'client_credentials',
          audience,
          ...(scopes.length > 0 && { scope: scopes.join(' ') }),
        }).toString();
        const req = request(
          url,
          {
            method: 'POST',
            cert: svid.certChain.map((der) => encodePem('CERTIFICATE', der)).join(''),
            key: encodePem('PRIVATE KEY', svid.privateKey),
            ca: bundle.x509Authorities.map((c) => encodePem('CERTIFICATE', c.raw)),
            timeout: TIMEOUT_MS,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
              else chunks.push(c);
            });
            res.once('end', () => {
              let json: { access_token?: unknown; error?: unknown };
              try {
                json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof json;
              } catch {
                reject(new Error(`${url.origin}: HTTP ${res.statusCode ?? 0}, not JSON`));
                return;
              }
              if (res.statusCode === 200 && typeof json.access_token === 'string') {
                resolve(json.access_token);
              } else {
                const code =
                  typeof json.error === 'string' ? json.error.slice(0, 64) : 'no error code';
                reject(new Error(`${url.origin}: HTTP ${res.statusCode ?? 0} (${code})`));
              }
            });
          },
        );
        req.once('timeout', () => req.destroy(new Error(`${url.origin}: timed out`)));
        req.once('error', reject);
        req.end(body);
      }),
  };
}
