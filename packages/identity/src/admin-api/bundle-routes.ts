import { formatBundle } from '@parley/core';
import { listBundles } from '@parley/store';
import type { AdminApiDeps } from './admin-api-deps.js';
import type { BundleDto, BundleListDto } from './admin-dto.js';
import type { Route } from './route.js';

/** The bundle endpoints: the trust domain's own bundle, and every bundle the server holds. */
export function bundleRoutes(deps: AdminApiDeps): Route[] {
  const own = (): BundleDto => ({
    trustDomain: deps.trustDomain.name,
    document: formatBundle(deps.ca.bundle()),
  });
  return [
    { method: 'GET', path: '/v1/bundle', handle: async () => ({ body: own() }) },
    {
      method: 'GET',
      path: '/v1/bundles',
      handle: async () => {
        // The CA's bundle is authoritative for the own trust domain, whatever the store holds.
        const federated = (await listBundles(deps.db))
          .filter((b) => !b.trustDomain.equals(deps.trustDomain))
          .map((b) => ({ trustDomain: b.trustDomain.name, document: formatBundle(b) }));
        const dto: BundleListDto = { bundles: [own(), ...federated] };
        return { body: dto };
      },
    },
  ];
}
