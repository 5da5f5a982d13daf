import type { Route } from '@parley/identity';
import { type Database, verifyAuditChain } from '@parley/store';

/**
 * `GET /v1/audit/verify`: checks the whole audit chain (every SVID minted, every authorization
 * decision recorded, …) and answers `{ ok: true, count }` or `{ ok: false, seq, reason }`.
 */
export function auditRoutes(deps: { readonly db: Database }): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/audit/verify',
      handle: async () => ({ body: await verifyAuditChain(deps.db) }),
    },
  ];
}
