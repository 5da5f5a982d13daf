import { type StatusObject, Metadata, status } from '@grpc/grpc-js';
import { type ErrorCode, isParleyError } from '@parley/core';
import type { WorkloadApiLog } from './workload-api-deps.js';

/** The one total table from Parley's error codes to gRPC status codes (STYLE rule 7). */
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

/** A gRPC status with the given code and details, ready to end a call. */
export function grpcStatus(code: status, details: string): StatusObject {
  return { code, details, metadata: new Metadata() };
}

/**
 * The status a failure is reported with: a ParleyError through the table with its (safe)
 * message; anything else as a generic INTERNAL, its cause logged and never sent.
 */
export function toGrpcStatus(err: unknown, log: WorkloadApiLog, method: string): StatusObject {
  if (isParleyError(err)) {
    if (err.code === 'internal') log.error('workload api: internal error', { method, err });
    return grpcStatus(GRPC_STATUS_BY_CODE[err.code], err.message);
  }
  log.error('workload api: unexpected error', { method, err });
  return grpcStatus(status.INTERNAL, 'internal error');
}
