import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Transition,
  activateAuthority,
  authoritySlots,
  describeRefusal,
  normalizeAuthorities,
  prepareAuthority,
  retireAuthority,
  revokeAuthority,
  taintAuthority,
} from './authority-lifecycle.js';
import type { AuthorityRecordBase, AuthorityStatus } from './authority-record.js';

const T0 = Date.UTC(2030, 0, 1);
const DAY = 86_400_000;

function rec(
  id: string,
  status: AuthorityStatus,
  sequence = 1,
  issuedAt = T0,
): AuthorityRecordBase {
  return {
    id,
    status,
    keyId: `k-${id}`,
    keyType: 'ec-p256',
    issuedAt,
    notAfter: issuedAt + DAY,
    sequence,
  };
}

function ok<R extends AuthorityRecordBase>(t: Transition<R>): readonly R[] {
  if (!t.ok) assert.fail(`refused: ${describeRefusal('x509', t.refusal)}`);
  return t.records;
}

function statuses(records: readonly AuthorityRecordBase[]): Record<string, string> {
  return Object.fromEntries(records.map((r) => [r.id, `${r.status}@${r.sequence}`]));
}

describe('authority transitions', () => {
  it('walks an authority from prepared to revoked, each step taking the next sequence', () => {
    let records = ok(prepareAuthority([rec('a', 'active')], rec('b', 'prepared', 0), 2));
    assert.deepEqual(statuses(records), { a: 'active@1', b: 'prepared@2' });
    records = ok(activateAuthority(records, 'b', T0, 3));
    assert.deepEqual(statuses(records), { a: 'old@3', b: 'active@3' });
    records = ok(taintAuthority(records, 'a', 4));
    assert.deepEqual(statuses(records), { a: 'tainted@4', b: 'active@3' });
    const t = revokeAuthority(records, 'a', 5);
    assert.ok(t.ok);
    assert.deepEqual(statuses(t.records), { a: 'revoked@5', b: 'active@3' });
    assert.deepEqual(
      t.changed.map((r) => r.id),
      ['a'],
    );
  });

  it('retires a prepared authority replaced by a new prepare', () => {
    const t = prepareAuthority(
      [rec('a', 'active'), rec('b', 'prepared')],
      rec('c', 'prepared', 0),
      7,
    );
    assert.ok(t.ok);
    assert.deepEqual(statuses(t.records), { a: 'active@1', b: 'retired@7', c: 'prepared@7' });
    assert.deepEqual(t.changed.map((r) => r.id).sort(), ['b', 'c']);
  });

  it('refuses illegal transitions with values that say why', () => {
    const records = [
      rec('act', 'active'),
      rec('pre', 'prepared'),
      rec('old', 'old'),
      rec('tai', 'tainted'),
      rec('rev', 'revoked'),
      rec('ret', 'retired'),
    ];
    const cases: [Transition<AuthorityRecordBase>, string, RegExp][] = [
      [
        revokeAuthority(records, 'act', 9),
        'active-authority',
        /cannot revoke the active X\.509 authority act/,
      ],
      [taintAuthority(records, 'act', 9), 'active-authority', /cannot taint the active/],
      [taintAuthority(records, 'pre', 9), 'prepared-authority', /has signed nothing yet/],
      [revokeAuthority(records, 'pre', 9), 'prepared-authority', /cannot revoke the prepared/],
      [
        revokeAuthority(records, 'old', 9),
        'not-tainted',
        /only a tainted authority can be revoked/,
      ],
      [taintAuthority(records, 'tai', 9), 'already-tainted', /already tainted/],
      [
        taintAuthority(records, 'rev', 9),
        'not-in-bundle',
        /it is revoked and no longer in the bundle/,
      ],
      [revokeAuthority(records, 'ret', 9), 'not-in-bundle', /it is retired/],
      [
        revokeAuthority(records, 'nope', 9),
        'unknown-authority',
        /no X\.509 authority with id "nope"/,
      ],
      [
        activateAuthority(records, 'old', T0, 9),
        'not-prepared',
        /only the prepared authority can be activated, and it is old/,
      ],
      [activateAuthority(records, 'nope', T0, 9), 'unknown-authority', /no X\.509 authority/],
      [
        activateAuthority([rec('act', 'active')], undefined, T0, 9),
        'nothing-prepared',
        /no X\.509 authority is prepared/,
      ],
      [activateAuthority(records, undefined, T0 + DAY, 9), 'prepared-expired', /has expired/],
    ];
    for (const [t, reason, message] of cases) {
      assert.equal(t.ok, false);
      if (t.ok) continue;
      assert.equal(t.refusal.reason, reason);
      assert.match(describeRefusal('x509', t.refusal), message);
    }
    assert.match(
      describeRefusal('jwt', { reason: 'active-authority', id: 'k', operation: 'revoke' }),
      /cannot revoke the active JWT authority k/,
    );
  });

  it('retires expired authorities, leaving terminal ones alone and refusing the active one', () => {
    const records = [rec('a', 'active'), rec('o', 'old'), rec('r', 'revoked')];
    assert.deepEqual(statuses(ok(retireAuthority(records, 'o', 4))), {
      a: 'active@1',
      o: 'retired@4',
      r: 'revoked@1',
    });
    const same = retireAuthority(records, 'r', 4);
    assert.ok(same.ok && same.changed.length === 0);
    assert.throws(() => retireAuthority(records, 'a', 4), TypeError);
  });

  it('repairs what a crash between two saves leaves', () => {
    const records = [
      rec('a', 'active', 3),
      rec('b', 'active', 4),
      rec('p', 'prepared', 2),
      rec('q', 'prepared', 5),
      rec('gone', 'active', 6),
    ];
    const t = normalizeAuthorities(records, (r) => r.id !== 'gone', 7);
    assert.ok(t.ok);
    assert.deepEqual(statuses(t.records), {
      a: 'old@7',
      b: 'active@4',
      p: 'retired@7',
      q: 'prepared@5',
      gone: 'old@7',
    });
    const clean = normalizeAuthorities([rec('a', 'active')], () => true, 8);
    assert.ok(clean.ok && clean.changed.length === 0);
  });

  it('shows the slots: active, prepared and the latest old', () => {
    const slots = authoritySlots([
      rec('o1', 'old', 1, T0),
      rec('o2', 'tainted', 1, T0 + 1),
      rec('a', 'active'),
      rec('p', 'prepared'),
    ]);
    assert.equal(slots.active?.id, 'a');
    assert.equal(slots.prepared?.id, 'p');
    assert.equal(slots.old?.id, 'o2');
  });
});
