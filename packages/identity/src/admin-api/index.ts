/** The server's admin API (HTTP/1.1 JSON on a Unix socket) and its wire shapes. */
export { createAdminApi } from './admin-api.js';
export type { AdminApiDeps, AdminCa } from './admin-api-deps.js';
export type * from './admin-dto.js';
export { HTTP_STATUS } from './http-status.js';
export { MAX_BODY_BYTES } from './request-body.js';
export { MAX_BATCH_ENTRIES } from './entry-routes.js';
export { DEFAULT_JOIN_TOKEN_TTL_SECONDS, MAX_JOIN_TOKEN_TTL_SECONDS } from './join-token-routes.js';
export { formatTimestamp, parseTimestamp } from './timestamp.js';
export type { Route, RouteRequest, RouteResponse } from './route.js';
export type { PlainJson } from './request-body.js';
