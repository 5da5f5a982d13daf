import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  type MaterializedCase,
  type OracleVerdict,
  materializeBundles,
  materializeJwt,
  materializeNames,
  materializeX509,
  runGoSpiffeOracle,
} from '@parley/testing';
import { judge } from './judge.js';

// Every SPIFFE vector is judged by Parley's core and by go-spiffe (through the Go oracle); each
// must give the verdict the vector expects of it (DESIGN §9: one verdict per implementation
// where they legitimately differ).
describe('SPIFFE conformance vectors: Parley and go-spiffe', () => {
  let cases: MaterializedCase[] = [];
  let verdicts = new Map<string, OracleVerdict>();

  before(async () => {
    cases = [
      ...materializeNames(),
      ...(await materializeX509()),
      ...materializeJwt(),
      ...(await materializeBundles()),
    ];
    verdicts = await runGoSpiffeOracle(cases.map((c) => c.input));
  });

  it('has well over a hundred cases, each citing its spec section', () => {
    assert.ok(cases.length > 200, `only ${cases.length} cases`);
    for (const c of cases) assert.match(c.vector.section, /§\d/, `${c.id} cites no section`);
  });

  it('Parley gives every case its expected verdict', () => {
    const wrong = cases
      .map((c) => ({ c, v: judge(c.input) }))
      .filter(({ c, v }) => v.valid !== c.expectParley)
      .map(
        ({ c, v }) =>
          `${c.id} "${c.vector.name}": expected ${c.expectParley ? 'valid' : 'invalid'}, got ${v.valid ? 'valid' : `invalid (${v.error})`}`,
      );
    assert.deepEqual(wrong, []);
  });

  it('go-spiffe gives every case its expected verdict', () => {
    const wrong: string[] = [];
    for (const c of cases) {
      const v = verdicts.get(c.id);
      if (v === undefined) {
        wrong.push(`${c.id}: no verdict from the oracle`);
        continue;
      }
      if (c.expectGo === undefined || v.unsupported === true) continue;
      if (v.valid !== c.expectGo) {
        wrong.push(
          `${c.id} "${c.vector.name}": go-spiffe expected ${c.expectGo ? 'valid' : 'invalid'}, got ${v.valid ? 'valid' : `invalid (${v.error})`}`,
        );
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('where both accept, both read the same identity and bundle contents', () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      const go = verdicts.get(c.id);
      const ours = judge(c.input);
      if (go?.valid !== true || !ours.valid || go.result === undefined || ours.result === undefined)
        continue;
      for (const key of Object.keys(ours.result)) {
        if (!(key in go.result)) continue;
        const a = JSON.stringify(ours.result[key]);
        const b = JSON.stringify(go.result[key]);
        if (a !== b) mismatches.push(`${c.id} ${key}: parley ${a} vs go-spiffe ${b}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });
});
