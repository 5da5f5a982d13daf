import { type StatusObject, Metadata, status } from '@grpc/grpc-js';
import { GRPC_STATUS_BY_CODE } from '@parley/api';
import { isParleyError } from '@parley/core';
import type { WorkloadApiLog } from './workload-api-deps.js';

export { GRPC_STATUS_BY_CODE };

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
