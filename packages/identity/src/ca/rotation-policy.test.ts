import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationMs } from '@parley/core';
import type { AuthorityRecordBase, AuthorityStatus } from './authority-record.js';
import {
  maxSvidTtl,
  nextRotationCheck,
  planRotation,
  rotationSchedule,
} from './rotation-policy.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);

function authority(
  id: string,
  status: AuthorityStatus,
  issuedAt: number,
  lifetime: number,
): AuthorityRecordBase {
  return {
    id,
    status,
    keyId: `key-${id}`,
    keyType: 'ec-p256',
    issuedAt,
    notAfter: issuedAt + lifetime,
    sequence: 1,
  };
}

describe('rotationSchedule', () => {
  it('prepares a 24h CA at 12h and activates its successor at 20h', () => {
    const s = rotationSchedule({ issuedAt: T0, notAfter: T0 + DAY });
    assert.equal(s.prepareAt - T0, 12 * HOUR);
    assert.equal(s.activateAt - T0, 20 * HOUR);
  });

  it('caps a 1-year CA at 30 days before expiry to prepare and 7 days to activate', () => {
    const s = rotationSchedule({ issuedAt: T0, notAfter: T0 + 365 * DAY });
    assert.equal(s.prepareAt, T0 + 335 * DAY);
    assert.equal(s.activateAt, T0 + 358 * DAY);
  });

  it('uses the lifetime an upstream granted, not the configured TTL', () => {
    const s = rotationSchedule({ issuedAt: T0, notAfter: T0 + 6 * HOUR });
    assert.equal(s.prepareAt - T0, 3 * HOUR);
    assert.equal(s.activateAt - T0, 5 * HOUR);
  });

  it('bounds SVID TTLs by the activation threshold', () => {
    assert.equal(maxSvidTtl(durationMs(DAY)), 4 * HOUR);
    assert.equal(maxSvidTtl(durationMs(365 * DAY)), 7 * DAY);
  });
});

describe('planRotation', () => {
  it('bootstraps: prepare then activate when nothing is active', () => {
    assert.deepEqual(planRotation([], T0), [{ kind: 'prepare' }, { kind: 'activate' }]);
  });

  it('activates a fresh prepared authority without preparing another', () => {
    const prepared = authority('p', 'prepared', T0, DAY);
    assert.deepEqual(planRotation([prepared], T0), [{ kind: 'activate' }]);
  });

  it('follows a 24h CA through its life', () => {
    const current = authority('a', 'active', T0, DAY);
    assert.deepEqual(planRotation([current], T0 + 12 * HOUR - 1), []);
    assert.deepEqual(planRotation([current], T0 + 12 * HOUR), [{ kind: 'prepare' }]);
    const next = authority('b', 'prepared', T0 + 12 * HOUR, DAY);
    assert.deepEqual(planRotation([current, next], T0 + 20 * HOUR - 1), []);
    assert.deepEqual(planRotation([current, next], T0 + 20 * HOUR), [{ kind: 'activate' }]);
    const old = { ...current, status: 'old' as const };
    const active = { ...next, status: 'active' as const };
    assert.deepEqual(planRotation([old, active], T0 + DAY - 1), []);
    // The first expires just as the second reaches its own preparation threshold.
    assert.deepEqual(planRotation([old, active], T0 + DAY), [
      { kind: 'retire', id: 'a' },
      { kind: 'prepare' },
    ]);
  });

  it('follows a 1-year CA through its life', () => {
    const current = authority('a', 'active', T0, 365 * DAY);
    assert.deepEqual(planRotation([current], T0 + 335 * DAY - 1), []);
    assert.deepEqual(planRotation([current], T0 + 335 * DAY), [{ kind: 'prepare' }]);
    const next = authority('b', 'prepared', T0 + 335 * DAY, 365 * DAY);
    assert.deepEqual(planRotation([current, next], T0 + 358 * DAY - 1), []);
    assert.deepEqual(planRotation([current, next], T0 + 358 * DAY), [{ kind: 'activate' }]);
  });

  it('prepares and activates at once when the server slept through both thresholds', () => {
    const current = authority('a', 'active', T0, DAY);
    assert.deepEqual(planRotation([current], T0 + 2 * DAY), [
      { kind: 'prepare' },
      { kind: 'activate' },
    ]);
  });

  it('replaces a prepared authority that went stale before it was needed', () => {
    const current = authority('a', 'active', T0, 365 * DAY);
    const stale = authority('p', 'prepared', T0, DAY);
    // At day 335 the prepared 24h authority is long past its own activation threshold.
    assert.deepEqual(planRotation([current, stale], T0 + 335 * DAY), [
      { kind: 'retire', id: 'p' },
      { kind: 'prepare' },
    ]);
  });

  it('retires expired old and tainted authorities, never revoked or retired ones', () => {
    const active = authority('a', 'active', T0 + DAY, DAY);
    const records = [
      authority('o', 'old', T0, DAY),
      authority('t', 'tainted', T0, DAY),
      authority('r', 'revoked', T0, DAY),
      authority('x', 'retired', T0, DAY),
      active,
    ];
    assert.deepEqual(planRotation(records, T0 + DAY), [
      { kind: 'retire', id: 'o' },
      { kind: 'retire', id: 't' },
    ]);
  });
});

describe('nextRotationCheck', () => {
  it('names the next threshold of the active authority', () => {
    const current = authority('a', 'active', T0, DAY);
    assert.equal(nextRotationCheck([current], T0), T0 + 12 * HOUR);
    const next = authority('b', 'prepared', T0 + 12 * HOUR, DAY);
    assert.equal(nextRotationCheck([current, next], T0 + 12 * HOUR), T0 + 20 * HOUR);
    assert.equal(nextRotationCheck([], T0), T0);
  });

  it('includes the expiry of old authorities', () => {
    const old = authority('o', 'old', T0, DAY);
    const active = authority('a', 'active', T0 + 20 * HOUR, DAY);
    assert.equal(nextRotationCheck([old, active], T0 + 20 * HOUR), T0 + DAY);
  });
});
