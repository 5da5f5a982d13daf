import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import { durationMs, formatDuration, parseDuration } from './duration.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('parseDuration', () => {
  it('reads the documented forms', () => {
    const cases: [string, number][] = [
      ['90', 90 * S],
      ['0', 0],
      ['90s', 90 * S],
      ['15m', 15 * M],
      ['1h', H],
      ['1h30m', H + 30 * M],
      ['500ms', 500],
      ['2d', 2 * D],
      ['1d2h3m4s5ms', D + 2 * H + 3 * M + 4 * S + 5],
      ['1m1ms', M + 1],
      ['0s', 0],
      ['0h', 0],
      ['90m', 90 * M],
      ['999999999999', 999_999_999_999 * S],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('rejects malformed durations with invalid-argument', () => {
    for (const text of [
      '',
      '1h1h',
      '30m1h',
      '1s1m',
      '500ms1s',
      '-1',
      '-1s',
      '+1s',
      '1.5h',
      '1.5',
      ' 1s',
      '1s ',
      '1 s',
      '1S',
      '1H',
      'h',
      's1',
      '1w',
      '1y',
      '1us',
      '1e3',
      '0x10',
      '1h30',
      '1000000000000',
      '1000000000000s',
      '１s',
    ]) {
      assert.throws(
        () => parseDuration(text),
        (e: unknown) => isParleyError(e, 'invalid-argument'),
        JSON.stringify(text),
      );
    }
  });

  it('rejects durations beyond the safe integer range', () => {
    assert.throws(
      () => parseDuration('999999999999d'),
      (e: unknown) => isParleyError(e, 'invalid-argument'),
    );
  });

  it('never echoes more than a bounded prefix of huge input', () => {
    const huge = '1h' + 'x'.repeat(100_000);
    assert.throws(
      () => parseDuration(huge),
      (e: unknown) => isParleyError(e) && e.message.length < 200,
    );
  });

  it('bounds the echoed input when units repeat', () => {
    const huge = '1h1h' + 'x'.repeat(100_000);
    assert.throws(
      () => parseDuration(huge),
      (e: unknown) => isParleyError(e) && e.message.length < 200,
    );
  });
});

describe('formatDuration', () => {
  it('writes the shortest form parseDuration reads back', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [500, '500ms'],
      [90 * S, '1m30s'],
      [H + 30 * M, '1h30m'],
      [2 * D, '2d'],
      [D + 1, '1d1ms'],
      [D + 2 * H + 3 * M + 4 * S + 5, '1d2h3m4s5ms'],
    ];
    for (const [ms, text] of cases) {
      assert.equal(formatDuration(durationMs(ms)), text);
      assert.equal(parseDuration(text), ms);
    }
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [
      1,
      999,
      1000,
      59_999,
      3_600_001,
      86_399_999,
      123_456_789_012,
      Number.MAX_SAFE_INTEGER,
    ]) {
      assert.equal(parseDuration(formatDuration(durationMs(ms))), ms);
    }
    for (const text of ['90s', '15m', '1h30m', '500ms', '2d']) {
      assert.equal(formatDuration(parseDuration(text)), text === '90s' ? '1m30s' : text);
    }
  });
});

describe('durationMs', () => {
  it('accepts non-negative safe integers and throws RangeError otherwise', () => {
    assert.equal(durationMs(0), 0);
    assert.equal(durationMs(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
    for (const bad of [-1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(() => durationMs(bad), RangeError);
    }
  });
});
