import {
  type Duration,
  ParleyError,
  bundleSet,
  checkDnsName,
  durationMs,
  encodePem,
  invalidArgument,
  parseCertificateRequest,
  parseSpiffeId,
  verifyJwtSvid,
  verifyX509Svid,
} from '@parley/core';
import { appendAudit } from '@parley/store';
import { ENTRY_LIMITS, checkWorkloadId } from '../entries/registration-entry.js';
import type { AdminApiDeps } from './admin-api-deps.js';
import { adminAuditEvent } from './admin-audit.js';
import type { JwtMintDto, X509MintDto } from './admin-dto.js';
import { readStrings, readRequest } from './request-reader.js';
import type { Route } from './route.js';
import { formatTimestamp } from './timestamp.js';

const DEFAULT_X509_TTL = durationMs(3_600_000);
const DEFAULT_JWT_TTL = durationMs(300_000);
const MAX_AUDIENCES = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function ttlOf(seconds: number | undefined, fallback: Duration): Duration {
  return seconds === undefined ? fallback : durationMs(seconds * 1000);
}

/**
 * `POST /v1/x509/mint {spiffeId, csr, ttl?, dnsNames?}` and `POST /v1/jwt/mint {spiffeId,
 * audience, ttl?}`: SVIDs for the (trusted) admin, as SPIRE's `x509 mint` and `jwt mint`. The
 * X.509 key stays with the caller: the request carries a PKCS#10 CSR (base64 DER) whose signature
 * proves possession. Every SVID is verified against the bundle before it leaves (STYLE rule 3)
 * and audited (never the token).
 */
export function mintRoutes(deps: AdminApiDeps): Route[] {
  const td = deps.trustDomain;
  const maxTtl = ENTRY_LIMITS.maxTtl;
  return [
    {
      method: 'POST',
      path: '/v1/x509/mint',
      body: true,
      handle: async ({ body }) => {
        const request = readRequest(body, 'X509-SVID mint request', (r) => ({
          spiffeId: r.parsed('spiffeId', parseSpiffeId),
          csr: r.parsed('csr', (text) => {
            if (!BASE64.test(text)) throw invalidArgument('must be base64 (DER PKCS#10)');
            return parseCertificateRequest(Buffer.from(text, 'base64'));
          }),
          ttl: r.has('ttl') ? r.integer('ttl', 0, 1, maxTtl) : undefined,
          dnsNames: readStrings(r, 'dnsNames'),
        }));
        checkWorkloadId(td, request.spiffeId);
        if (request.dnsNames.length > ENTRY_LIMITS.dnsNames)
          throw invalidArgument(`at most ${ENTRY_LIMITS.dnsNames} DNS names`);
        request.dnsNames.forEach(checkDnsName);
        const minted = await deps.ca.mintX509Svid({
          spiffeId: request.spiffeId,
          publicKey: request.csr.subjectPublicKeyInfo,
          ttl: ttlOf(request.ttl, deps.defaultX509SvidTtl ?? DEFAULT_X509_TTL),
          dnsNames: request.dnsNames,
        });
        const bundle = deps.ca.bundle();
        const check = verifyX509Svid(minted.certChain, bundleSet(bundle), deps.clock);
        if (!check.ok || !check.svid.spiffeId.equals(request.spiffeId))
          throw new ParleyError(
            'internal',
            'the minted X509-SVID does not verify against the bundle',
          );
        const serialNumber = Buffer.from(minted.serialNumber).toString('hex');
        await deps.db.transaction((tx) =>
          appendAudit(
            tx,
            adminAuditEvent(deps, 'x509-svid.mint', request.spiffeId.toString(), {
              serialNumber,
              expiresAt: formatTimestamp(minted.expiresAt),
            }),
          ),
        );
        const dto: X509MintDto = {
          spiffeId: request.spiffeId.toString(),
          certChain: minted.certChain.map((der) => encodePem('CERTIFICATE', der)).join(''),
          bundle: bundle.x509Authorities.map((c) => encodePem('CERTIFICATE', c.raw)).join(''),
          expiresAt: formatTimestamp(minted.expiresAt),
        };
        return { body: dto };
      },
    },
    {
      method: 'POST',
      path: '/v1/jwt/mint',
      body: true,
      handle: async ({ body }) => {
        const request = readRequest(body, 'JWT-SVID mint request', (r) => {
          if (!r.has('audience')) r.problem('audience', 'is required');
          return {
            spiffeId: r.parsed('spiffeId', parseSpiffeId),
            audience: readStrings(r, 'audience'),
            ttl: r.has('ttl') ? r.integer('ttl', 0, 1, maxTtl) : undefined,
          };
        });
        checkWorkloadId(td, request.spiffeId);
        const { audience } = request;
        if (audience.length === 0 || audience.length > MAX_AUDIENCES)
          throw invalidArgument(`a JWT-SVID needs 1 to ${MAX_AUDIENCES} audiences`);
        if (audience.some((a) => a === '' || a.length > 256))
          throw invalidArgument('an audience must be 1 to 256 characters');
        const minted = await deps.ca.mintJwtSvid({
          spiffeId: request.spiffeId,
          audience,
          ttl: ttlOf(request.ttl, deps.defaultJwtSvidTtl ?? DEFAULT_JWT_TTL),
        });
        const check = verifyJwtSvid(
          minted.token,
          bundleSet(deps.ca.bundle()),
          audience,
          deps.clock,
        );
        if (!check.ok || !check.svid.spiffeId.equals(request.spiffeId))
          throw new ParleyError(
            'internal',
            'the minted JWT-SVID does not verify against the bundle',
          );
        await deps.db.transaction((tx) =>
          appendAudit(
            tx,
            adminAuditEvent(deps, 'jwt-svid.mint', request.spiffeId.toString(), {
              audience,
              expiresAt: formatTimestamp(minted.expiresAt),
            }),
          ),
        );
        const dto: JwtMintDto = {
          spiffeId: request.spiffeId.toString(),
          token: minted.token,
          expiresAt: formatTimestamp(minted.expiresAt),
        };
        return { body: dto };
      },
    },
  ];
}
