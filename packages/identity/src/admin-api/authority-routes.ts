import { ParleyError } from '@parley/core';
import { appendAudit } from '@parley/store';
import type { AuthorityResult } from '../ca/ca.js';
import type { AuthorityKind, AuthorityRecord } from '../ca/authority-record.js';
import type { AdminApiDeps } from './admin-api-deps.js';
import { adminAuditEvent } from './admin-audit.js';
import type { AuthorityChangeDto, AuthorityDto, AuthorityListDto } from './admin-dto.js';
import { readRequest } from './request-reader.js';
import type { Route, RouteRequest } from './route.js';
import { formatTimestamp } from './timestamp.js';

/** An authority on the wire: public facts only, never key material. */
export function authorityDto(a: AuthorityRecord): AuthorityDto {
  return {
    id: a.id,
    kind: a.kind,
    status: a.status,
    keyType: a.keyType,
    issuedAt: formatTimestamp(a.issuedAt),
    notAfter: formatTimestamp(a.notAfter),
    ...(a.kind === 'x509' && a.upstreamAuthorityId !== undefined
      ? { upstreamAuthorityId: a.upstreamAuthorityId }
      : {}),
  };
}

function kindOf(req: RouteRequest): AuthorityKind {
  const kind = req.params['kind'];
  if (kind === 'x509' || kind === 'jwt') return kind;
  throw new ParleyError(
    'not-found',
    `no authority kind "${(kind ?? '').slice(0, 32)}": use x509 or jwt`,
  );
}

/**
 * The authority endpoints (SPIRE's local authority API): `GET /v1/authorities/{x509|jwt}`, and
 * `POST …/prepare`, `…/activate {id?}`, `…/taint {id}`, `…/revoke {id}`. A refused operation is
 * `failed-precondition` (or `not-found` for an unknown id) with the CA's explanation.
 */
export function authorityRoutes(deps: AdminApiDeps): Route[] {
  async function outcome(
    kind: AuthorityKind,
    operation: string,
    result: AuthorityResult<AuthorityRecord>,
  ): Promise<{ body: AuthorityChangeDto }> {
    if (!result.ok) {
      const code =
        result.refusal.reason === 'unknown-authority' ? 'not-found' : 'failed-precondition';
      throw new ParleyError(code, result.message);
    }
    const a = result.authority;
    await deps.db.transaction((tx) =>
      appendAudit(
        tx,
        adminAuditEvent(deps, `authority.${operation}`, a.id, { kind, status: a.status }),
      ),
    );
    return { body: { authority: authorityDto(a) } };
  }

  const readId = (body: unknown, operation: string, required: boolean) =>
    readRequest(body, `${operation} request`, (r) =>
      required ? r.string('id') : r.optionalString('id'),
    );

  return [
    {
      method: 'GET',
      path: '/v1/authorities/:kind',
      handle: async (req) => {
        const kind = kindOf(req);
        const records = kind === 'x509' ? deps.ca.x509Authorities() : deps.ca.jwtAuthorities();
        const slots = deps.ca.slots(kind);
        const dto: AuthorityListDto = {
          authorities: records.map(authorityDto),
          ...(slots.active === undefined ? {} : { active: slots.active.id }),
          ...(slots.prepared === undefined ? {} : { prepared: slots.prepared.id }),
          ...(slots.old === undefined ? {} : { old: slots.old.id }),
        };
        return { body: dto };
      },
    },
    {
      method: 'POST',
      path: '/v1/authorities/:kind/prepare',
      handle: async (req) => {
        const kind = kindOf(req);
        return outcome(kind, 'prepare', await deps.ca.prepare(kind));
      },
    },
    {
      method: 'POST',
      path: '/v1/authorities/:kind/activate',
      body: true,
      handle: async (req) => {
        const kind = kindOf(req);
        const id = readId(req.body, 'activate', false);
        return outcome(kind, 'activate', await deps.ca.activate(kind, id));
      },
    },
    {
      method: 'POST',
      path: '/v1/authorities/:kind/taint',
      body: true,
      handle: async (req) => {
        const kind = kindOf(req);
        return outcome(
          kind,
          'taint',
          await deps.ca.taint(kind, readId(req.body, 'taint', true) ?? ''),
        );
      },
    },
    {
      method: 'POST',
      path: '/v1/authorities/:kind/revoke',
      body: true,
      handle: async (req) => {
        const kind = kindOf(req);
        return outcome(
          kind,
          'revoke',
          await deps.ca.revoke(kind, readId(req.body, 'revoke', true) ?? ''),
        );
      },
    },
  ];
}
