import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '@parley/core';

/**
 * The one total table from Parley's error codes to gRPC status codes (STYLE rule 7), shared by
 * every gRPC service Parley serves.
 */
export const GRPC_STATUS_BY_CODE: Readonly<Record<ErrorCode, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  'permission-denied': status.PERMISSION_DENIED,
  unauthenticated: status.UNAUTHENTICATED,
  'failed-precondition': status.FAILED_PRECONDITION,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  unimplemented: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
};
