import { isParleyError } from '@parley/core';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSelector, parseSelector } from './selector.js';

describe('selectors', () => {
  it('split at the first colon, as SPIRE writes them', () => {
    assert.deepEqual(parseSelector('unix:uid:1000'), { type: 'unix', value: 'uid:1000' });
    assert.deepEqual(parseSelector('unix:path:/opt/a:b'), { type: 'unix', value: 'path:/opt/a:b' });
    for (const text of ['unix:uid:0', 'unix:sha256:ab12', 'k8s:ns:default']) {
      assert.equal(formatSelector(parseSelector(text)), text);
    }
  });

  it('reject text without a type or a value', () => {
    for (const text of ['', 'unix', ':uid:0', 'unix:']) {
      assert.throws(
        () => parseSelector(text),
        (e) => isParleyError(e, 'invalid-argument'),
      );
    }
  });
});
