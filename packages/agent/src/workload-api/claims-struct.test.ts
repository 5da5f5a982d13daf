import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type JsonObject, parseJson } from '@parley/core';
import { jsonToStruct } from './claims-struct.js';

describe('jsonToStruct', () => {
  it('converts every JSON type to its google.protobuf.Value member', () => {
    const claims = parseJson(
      '{"sub":"spiffe://example.org/w","aud":["a","b"],"exp":1700000000,"ok":true,' +
        '"none":null,"nested":{"x":1.5},"__proto__":{"polluted":true}}',
    ) as JsonObject;
    const struct = jsonToStruct(claims);
    assert.deepEqual(
      { ...struct.fields },
      {
        sub: { stringValue: 'spiffe://example.org/w' },
        aud: { listValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } },
        exp: { numberValue: 1700000000 },
        ok: { boolValue: true },
        none: { nullValue: 'NULL_VALUE' },
        nested: {
          structValue: {
            fields: Object.assign(Object.create(null) as object, { x: { numberValue: 1.5 } }),
          },
        },
        ['__proto__']: {
          structValue: {
            fields: Object.assign(Object.create(null) as object, { polluted: { boolValue: true } }),
          },
        },
      },
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});
