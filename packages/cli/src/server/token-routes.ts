import type { Route } from '@parley/identity';
import type { TokensModule } from './tokens-module.js';

/**
 * The tokens module's admin routes: `GET /v1/oauth/keys` (the issuer and its published signing
 * keys) and `POST /v1/oauth/keys/rotate` (the next key signs now; `parley oauth keys rotate`).
 */
export function tokenRoutes(tokens: TokensModule | undefined): Route[] {
  if (tokens === undefined) return [];
  const keys = () => ({
    issuer: tokens.issuer,
    keys: tokens.signingKeys().map((k) => ({
      kid: k.kid,
      alg: k.alg,
      serverId: k.serverId,
      activeFrom: new Date(k.activeFrom).toISOString(),
      activeUntil: new Date(k.activeUntil).toISOString(),
    })),
  });
  return [
    { method: 'GET', path: '/v1/oauth/keys', handle: async () => ({ body: keys() }) },
    {
      method: 'POST',
      path: '/v1/oauth/keys/rotate',
      handle: async () => {
        const switchesAt = await tokens.rotateSigningKey();
        return { body: { ...keys(), switchesAt: new Date(switchesAt).toISOString() } };
      },
    },
  ];
}
