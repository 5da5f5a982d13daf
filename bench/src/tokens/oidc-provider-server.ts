// The peer of bench:tokens: oidc-provider (npm) as an authorization server for the
// client_credentials grant only, one client authenticating with private_key_jwt (ES256), JWT
// access tokens (RFC 9068 via resource indicators) signed with ES256, over HTTPS with the same
// kind of certificate as Parley's listener (keep-alive HTTP/1.1).
// Usage: node oidc-provider-server.js PORT CERT KEY CLIENT_PUBLIC_JWK_FILE
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const [port = '0', cert = '', key = '', clientJwk = ''] = process.argv.slice(2);
const issuer = `https://localhost:${port}`;
const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
  format: 'jwk',
});
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      id_token_signed_response_alg: 'ES256',
      jwks: { keys: [JSON.parse(readFileSync(clientJwk, 'utf8')) as object] },
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'bench:read',
    },
  ],
  jwks: { keys: [{ ...signing, kid: 'bench-signing', alg: 'ES256', use: 'sig' }] },
  scopes: ['bench:read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://bench.example',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'bench:read',
        audience: 'bench',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 300,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
const server = createServer(
  { cert: readFileSync(cert), key: readFileSync(key), keepAliveTimeout: 5000 },
  provider.callback(),
);
server.listen(Number(port), '127.0.0.1');
