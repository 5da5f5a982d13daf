import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ERROR_CODES,
  type ErrorCode,
  ParleyError,
  invalidArgument,
  isParleyError,
} from './errors.js';

describe('ParleyError', () => {
  it('carries a code, a message and a cause', () => {
    const cause = new Error('inner');
    const err = new ParleyError('not-found', 'no such entry', { cause });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'ParleyError');
    assert.equal(err.code, 'not-found');
    assert.equal(err.message, 'no such entry');
    assert.equal(err.cause, cause);
    assert.match(String(err), /^ParleyError: no such entry$/);
  });

  it('invalidArgument is the invalid-argument shorthand', () => {
    const err = invalidArgument('bad', { cause: 1 });
    assert.equal(err.code, 'invalid-argument');
    assert.equal(err.cause, 1);
  });

  it('isParleyError narrows, optionally by code', () => {
    const err = invalidArgument('bad');
    assert.ok(isParleyError(err));
    assert.ok(isParleyError(err, 'invalid-argument'));
    assert.ok(!isParleyError(err, 'internal'));
    for (const other of [
      new Error('x'),
      { code: 'invalid-argument' },
      null,
      undefined,
      'invalid-argument',
    ]) {
      assert.ok(!isParleyError(other));
    }
  });

  it('lists every code once', () => {
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
    // A total switch over ErrorCode: the compiler fails here if a code is added without a case.
    const status = (code: ErrorCode): number => {
      switch (code) {
        case 'invalid-argument':
        case 'failed-precondition':
          return 400;
        case 'unauthenticated':
          return 401;
        case 'permission-denied':
          return 403;
        case 'not-found':
          return 404;
        case 'already-exists':
          return 409;
        case 'resource-exhausted':
          return 429;
        case 'unimplemented':
          return 501;
        case 'unavailable':
          return 503;
        case 'deadline-exceeded':
          return 504;
        case 'internal':
          return 500;
      }
    };
    assert.equal(ERROR_CODES.map(status).length, 11);
  });
});
