import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ERROR_CODES, ParleyError } from '@parley/core';
import { GRPC_STATUS_BY_CODE, toGrpcStatus } from './grpc-status.js';
import type { WorkloadApiLog } from './workload-api-deps.js';

function recordingLog(): WorkloadApiLog & { readonly errors: unknown[] } {
  const errors: unknown[] = [];
  return { errors, warn: () => undefined, error: (_m, fields) => errors.push(fields) };
}

describe('toGrpcStatus', () => {
  it('maps every error code to a distinct gRPC status', () => {
    const mapped = ERROR_CODES.map((code) => GRPC_STATUS_BY_CODE[code]);
    assert.ok(mapped.every((s) => typeof s === 'number' && s !== status.OK));
    assert.equal(new Set(mapped).size, ERROR_CODES.length);
  });

  it('sends a ParleyError with its code and message', () => {
    const log = recordingLog();
    const s = toGrpcStatus(new ParleyError('permission-denied', 'no identity issued'), log, 'm');
    assert.equal(s.code, status.PERMISSION_DENIED);
    assert.equal(s.details, 'no identity issued');
    assert.equal(log.errors.length, 0);
  });

  it('hides an unexpected error behind a generic INTERNAL and logs its cause', () => {
    const log = recordingLog();
    const cause = new Error('secret detail: /var/lib/key.pem');
    const s = toGrpcStatus(cause, log, 'FetchX509SVID');
    assert.equal(s.code, status.INTERNAL);
    assert.equal(s.details, 'internal error');
    assert.deepEqual(log.errors, [{ method: 'FetchX509SVID', err: cause }]);
  });
});
