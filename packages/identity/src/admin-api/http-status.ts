import type { ErrorCode } from '@parley/core';

/**
 * The admin API's one total table from error code to HTTP status (STYLE rule 7): every code maps
 * once, here, and nowhere else in the API.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  'invalid-argument': 400,
  unauthenticated: 401,
  'permission-denied': 403,
  'not-found': 404,
  'already-exists': 409,
  'failed-precondition': 412,
  'resource-exhausted': 429,
  internal: 500,
  unimplemented: 501,
  unavailable: 503,
  'deadline-exceeded': 504,
};
