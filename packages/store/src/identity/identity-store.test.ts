import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Bundle,
  SpiffeId,
  TrustDomain,
  generateKey,
  isParleyError,
  parseSpiffeId,
  parseTrustDomain,
} from '@parley/core';
import { createDatabase, makeTempDir, makeTestCa, startPostgres } from '@parley/testing';
import type { Database, Transaction } from '../database.js';
import { openStore } from '../open-store.js';
import type { StoreConfig } from '../store-config.js';
import { banAgent } from './agent/ban-agent.js';
import { countAgents } from './agent/count-agents.js';
import { createAgent } from './agent/create-agent.js';
import { deleteAgent } from './agent/delete-agent.js';
import { getAgent } from './agent/get-agent.js';
import { listAgents } from './agent/list-agents.js';
import { setAgentSelectors } from './agent/set-agent-selectors.js';
import { updateAgentSerials } from './agent/update-agent-serials.js';
import { getAuthority } from './authority/get-authority.js';
import { listAuthorities } from './authority/list-authorities.js';
import { saveAuthority } from './authority/save-authority.js';
import { setAuthorityStatus } from './authority/set-authority-status.js';
import { deleteBundle } from './bundle/delete-bundle.js';
import { getBundle } from './bundle/get-bundle.js';
import { listBundles } from './bundle/list-bundles.js';
import { setBundle } from './bundle/set-bundle.js';
import { countEntries } from './entry/count-entries.js';
import { createEntry } from './entry/create-entry.js';
import { deleteEntry } from './entry/delete-entry.js';
import { getEntries } from './entry/get-entries.js';
import { getEntry } from './entry/get-entry.js';
import { listEntries } from './entry/list-entries.js';
import { listEntriesByParents } from './entry/list-entries-by-parents.js';
import { listEntryEventsSince } from './entry/list-entry-events-since.js';
import { pruneEntryEvents } from './entry/prune-entry-events.js';
import type { NewRegistrationEntry } from './entry/registration-entry.js';
import { updateEntry } from './entry/update-entry.js';
import { consumeJoinToken } from './join-token/consume-join-token.js';
import { createJoinToken } from './join-token/create-join-token.js';
import { pruneJoinTokens } from './join-token/prune-join-tokens.js';
import type { Selector, SelectorMatch } from './selector.js';

/** What the suite needs from an engine: fresh, empty databases. */
interface EngineFixture {
  freshConfig(): Promise<StoreConfig>;
  close(): Promise<void>;
}

const rejectsWith = (code: string, pattern?: RegExp) => (error: unknown) =>
  isParleyError(error) &&
  error.code === code &&
  (pattern === undefined || pattern.test(error.message));

const NOW = 1_700_000_000_000;
const id = (path: string): SpiffeId => parseSpiffeId(`spiffe://example.org${path}`);
const sel = (type: string, value: string): Selector => ({ type, value });
const AGENT = id('/agent/node-1');
const UID1 = sel('unix', 'uid:1');
const GID1 = sel('unix', 'gid:1');
const UID2 = sel('unix', 'uid:2');

function entry(path: string, selectors: Selector[], extra: Partial<NewRegistrationEntry> = {}) {
  return { spiffeId: id(path), parentId: AGENT, selectors, ...extra };
}

const ids = (entries: readonly { id: string }[]) => entries.map((e) => e.id).sort();

/** The identity tables' tests, written once and run against every engine. */
function describeIdentityStore(name: string, setUp: () => Promise<EngineFixture>): void {
  void describe(`identity store on ${name}`, () => {
    let fixture: EngineFixture;
    const open = async () => openStore(await fixture.freshConfig());
    const create = (db: Database, e: NewRegistrationEntry, now = NOW) =>
      db.transaction((tx) => createEntry(tx, e, now));

    before(async () => {
      fixture = await setUp();
    });
    after(async () => {
      await fixture?.close();
    });

    void it('creates, reads, updates and deletes registration entries as typed values', async () => {
      await using db = await open();
      const created = await create(
        db,
        entry('/web', [UID1, GID1], {
          id: 'entry-1',
          x509SvidTtl: 3600,
          jwtSvidTtl: 300,
          dnsNames: ['web.local', 'web'],
          federatesWith: [parseTrustDomain('other.org')],
          hint: 'external',
          admin: true,
          downstream: false,
          expiresAt: NOW + 86_400_000,
        }),
      );
      assert.equal(created.revision, 0);
      assert.deepEqual(created.selectors, [GID1, UID1], 'canonical order');
      const read = await getEntry(db, 'entry-1');
      assert.deepEqual(read, created);
      assert.ok(read?.spiffeId instanceof SpiffeId && read.spiffeId.equals(id('/web')));
      assert.ok(read.federatesWith[0] instanceof TrustDomain);
      assert.equal(read.federatesWith[0].name, 'other.org');
      assert.equal(read.admin, true);

      const generated = await create(db, entry('/api', [UID2]));
      assert.match(generated.id, /^[0-9a-f-]{36}$/);
      assert.equal('expiresAt' in generated, false);
      assert.deepEqual(await getEntry(db, generated.id), {
        ...generated,
        x509SvidTtl: 0,
        jwtSvidTtl: 0,
        dnsNames: [],
        federatesWith: [],
        hint: '',
        admin: false,
        downstream: false,
      });

      const updated = await db.transaction((tx) =>
        updateEntry(
          tx,
          'entry-1',
          { ...created, selectors: [UID2], x509SvidTtl: 60 },
          { now: NOW + 5, expectedRevision: 0 },
        ),
      );
      assert.equal(updated.revision, 1);
      assert.equal(updated.createdAt, NOW);
      assert.equal(updated.updatedAt, NOW + 5);
      assert.deepEqual(await getEntry(db, 'entry-1'), updated);
      const byUid2 = await listEntries(db, {
        bySelectors: { selectors: [UID2], match: 'superset' },
      });
      assert.deepEqual(ids(byUid2.entries), ['entry-1', generated.id].sort());
      const byGid1 = await listEntries(db, { bySelectors: { selectors: [GID1], match: 'any' } });
      assert.deepEqual(byGid1.entries, [], 'old selectors replaced');

      const again = await db.transaction((tx) =>
        updateEntry(tx, 'entry-1', updated, { now: NOW + 6 }),
      );
      assert.equal(again.revision, 2, 'every update bumps the revision');

      const deleted = await db.transaction((tx) => deleteEntry(tx, 'entry-1', NOW + 7));
      assert.deepEqual(deleted, again);
      assert.equal(await getEntry(db, 'entry-1'), undefined);
      const left = await db.query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM entry_selectors WHERE entry_id = $1',
        ['entry-1'],
      );
      assert.equal(left[0]?.n, 0);
      await assert.rejects(
        db.transaction((tx) => deleteEntry(tx, 'entry-1', NOW)),
        rejectsWith('not-found', /entry-1/),
      );
      await assert.rejects(
        db.transaction((tx) => updateEntry(tx, 'entry-1', updated, { now: NOW })),
        rejectsWith('not-found'),
      );
    });

    void it('refuses malformed entries and calls outside a transaction', async () => {
      await using db = await open();
      const ok = entry('/web', [UID1]);
      await assert.rejects(createEntry(db as unknown as Transaction, ok, NOW), TypeError);
      await db.transaction(async (tx) => {
        await assert.rejects(
          createEntry(tx, { ...ok, id: 'has space' }, NOW),
          rejectsWith('invalid-argument'),
        );
        await assert.rejects(
          createEntry(tx, { ...ok, id: '' }, NOW),
          rejectsWith('invalid-argument'),
        );
        await assert.rejects(
          createEntry(tx, { ...ok, spiffeId: 'spiffe://example.org/web' as never }, NOW),
          TypeError,
        );
        await assert.rejects(createEntry(tx, { ...ok, x509SvidTtl: -1 }, NOW), RangeError);
        await assert.rejects(createEntry(tx, { ...ok, expiresAt: 1.5 }, NOW), RangeError);
        await assert.rejects(createEntry(tx, ok, -1), RangeError);
        await assert.rejects(
          createEntry(tx, { ...ok, selectors: [UID1, { ...UID1 }] }, NOW),
          rejectsWith('invalid-argument', /unix:uid:1 more than once/),
        );
        // Text that one engine would refuse or both would alter.
        await assert.rejects(
          createEntry(tx, { ...ok, selectors: [sel('unix', 'uid:\0')] }, NOW),
          rejectsWith('invalid-argument', /without NUL/),
        );
        await assert.rejects(
          createEntry(tx, { ...ok, hint: 'x\uD800' }, NOW),
          rejectsWith('invalid-argument'),
        );
      });
      assert.equal(await countEntries(db), 0);
    });

    void it('rejects duplicate entries, also when two replicas race', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      const first = await create(a, entry('/web', [UID1, GID1], { id: 'first' }));
      await assert.rejects(
        create(a, entry('/web', [GID1, UID1])),
        rejectsWith('already-exists', /same SPIFFE ID, parent ID and selectors.*"first"/),
      );
      await assert.rejects(
        create(a, entry('/other', [UID2], { id: 'first' })),
        rejectsWith('already-exists', /"first" already exists/),
      );
      const second = await create(a, entry('/web', [UID1]), NOW + 1);
      await create(a, { ...entry('/web', [UID1, GID1]), parentId: id('/agent/node-2') });
      await assert.rejects(
        a.transaction((tx) =>
          updateEntry(tx, second.id, { ...second, selectors: [UID1, GID1] }, { now: NOW + 2 }),
        ),
        rejectsWith('already-exists', /"first"/),
      );
      assert.deepEqual(await getEntry(a, second.id), second, 'the failed update changed nothing');
      assert.deepEqual(await getEntry(a, first.id), first);

      const racing = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => create(i % 2 ? a : b, entry('/race', [UID2]))),
      );
      assert.equal(racing.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(
        racing.every(
          (r) => r.status === 'fulfilled' || rejectsWith('already-exists')(r.reason as unknown),
        ),
      );
      assert.equal(await countEntries(a, { bySpiffeId: id('/race') }), 1);
    });

    void it('refuses an update at a stale revision, and lets one of racing updates win', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      const e = await create(a, entry('/web', [UID1], { id: 'e' }));
      await assert.rejects(
        a.transaction((tx) => updateEntry(tx, 'e', e, { now: NOW, expectedRevision: 5 })),
        rejectsWith('failed-precondition', /revision 0, not the expected 5/),
      );
      const racing = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).transaction((tx) =>
            updateEntry(tx, 'e', { ...e, hint: `h${i}` }, { now: NOW + i, expectedRevision: 0 }),
          ),
        ),
      );
      assert.equal(racing.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(
        racing.every(
          (r) =>
            r.status === 'fulfilled' || rejectsWith('failed-precondition')(r.reason as unknown),
        ),
      );
      assert.equal((await getEntry(a, 'e'))?.revision, 1);
    });

    void it('pages entries by cursor: default and capped sizes, each entry once while others are added', async () => {
      await using db = await open();
      const total = 1005;
      await db.transaction(async (tx) => {
        for (let i = 0; i < total; i++) {
          const n = String(i).padStart(4, '0');
          await createEntry(tx, entry(`/w${n}`, [sel('unix', `uid:${i}`)], { id: `e${n}` }), NOW);
        }
      });
      const first = await listEntries(db);
      assert.equal(first.entries.length, 100, 'default page size');
      assert.equal(first.entries[0]?.id, 'e0000');
      assert.equal((await listEntries(db, { pageSize: 0 })).entries.length, 100);
      const capped = await listEntries(db, { pageSize: 5000 });
      assert.equal(capped.entries.length, 1000, 'page size capped');
      assert.ok(capped.nextPageToken !== undefined);
      const rest = await listEntries(db, { pageSize: 5000, pageToken: capped.nextPageToken });
      assert.deepEqual(
        rest.entries.map((e) => e.id),
        ['e1000', 'e1001', 'e1002', 'e1003', 'e1004'],
      );
      assert.equal(rest.nextPageToken, undefined, 'no empty last page');
      await assert.rejects(listEntries(db, { pageSize: -1 }), rejectsWith('invalid-argument'));

      // Walk in small pages while entries are created before, inside and after the cursor.
      const seen: string[] = [];
      let token: string | undefined;
      let added = 0;
      do {
        const [page] = await Promise.all([
          listEntries(db, { pageSize: 37, ...(token === undefined ? {} : { pageToken: token }) }),
          create(
            db,
            entry(`/new${added}`, [UID1], { id: `e${String(added * 97).padStart(4, '0')}x` }),
          ),
        ]);
        added++;
        seen.push(...page.entries.map((e) => e.id));
        token = page.nextPageToken;
      } while (token !== undefined);
      assert.equal(new Set(seen).size, seen.length, 'no entry twice');
      const original = Array.from({ length: total }, (_, i) => `e${String(i).padStart(4, '0')}`);
      assert.deepEqual(
        original.filter((e) => !seen.includes(e)),
        [],
        'every entry present throughout the walk',
      );
      assert.equal(await countEntries(db), total + added);

      await assert.rejects(
        listEntries(db, { pageToken: 'not a token' }),
        rejectsWith('invalid-argument'),
      );
      await assert.rejects(listEntries(db, { pageToken: 'AAAA' }), rejectsWith('invalid-argument'));
      await db.transaction((tx) =>
        createAgent(
          tx,
          {
            spiffeId: AGENT,
            attestationType: 'join_token',
            selectors: [],
            certSerialNumber: '01',
            certNotAfter: NOW,
          },
          NOW,
        ),
      );
      await db.transaction((tx) =>
        createAgent(
          tx,
          {
            spiffeId: id('/agent/node-2'),
            attestationType: 'join_token',
            selectors: [],
            certSerialNumber: '02',
            certNotAfter: NOW,
          },
          NOW,
        ),
      );
      const agentToken = (await listAgents(db, { pageSize: 1 })).nextPageToken;
      assert.ok(agentToken !== undefined);
      await assert.rejects(
        listEntries(db, { pageToken: agentToken }),
        rejectsWith('invalid-argument', /entries listing/),
      );
    });

    void it('finds entries by SPIFFE ID, parent and selectors in every match mode', async () => {
      await using db = await open();
      const p2 = id('/agent/node-2');
      const ns = sel('k8s', 'ns:default');
      await create(db, entry('/a', [UID1, GID1], { id: 'e1' }));
      await create(db, entry('/b', [UID1], { id: 'e2' }));
      await create(db, { ...entry('/c', [UID2, ns], { id: 'e3' }), parentId: p2 });
      await create(db, { ...entry('/a', [UID1, GID1, ns], { id: 'e4' }), parentId: p2 });
      await create(db, entry('/none', [], { id: 'e5' }));
      const find = async (selectors: Selector[], match: SelectorMatch, parent?: SpiffeId) =>
        ids(
          (
            await listEntries(db, {
              bySelectors: { selectors, match },
              ...(parent === undefined ? {} : { byParentId: parent }),
            })
          ).entries,
        );
      assert.deepEqual(await find([UID1, GID1], 'exact'), ['e1']);
      assert.deepEqual(await find([GID1, UID1], 'subset'), ['e1', 'e2']);
      assert.deepEqual(await find([UID1], 'superset'), ['e1', 'e2', 'e4']);
      assert.deepEqual(await find([UID2, GID1], 'any'), ['e1', 'e3', 'e4']);
      assert.deepEqual(await find([UID1], 'superset', p2), ['e4']);
      assert.deepEqual(await find([sel('unix', 'uid:9')], 'any'), []);
      assert.deepEqual(ids((await listEntries(db, { bySpiffeId: id('/a') })).entries), [
        'e1',
        'e4',
      ]);
      assert.equal(await countEntries(db, { byParentId: AGENT }), 3);
      assert.equal(
        await countEntries(db, { bySelectors: { selectors: [UID1], match: 'superset' } }),
        3,
      );
      await assert.rejects(
        listEntries(db, { bySelectors: { selectors: [], match: 'any' } }),
        rejectsWith('invalid-argument'),
      );

      assert.deepEqual(ids(await listEntriesByParents(db, [AGENT, p2, AGENT])), [
        'e1',
        'e2',
        'e3',
        'e4',
        'e5',
      ]);
      assert.deepEqual(ids(await listEntriesByParents(db, [p2])), ['e3', 'e4']);
      assert.deepEqual(await listEntriesByParents(db, [id('/agent/unknown')]), []);
      assert.deepEqual(await listEntriesByParents(db, []), []);
      assert.deepEqual(ids(await getEntries(db, ['e3', 'missing', 'e1', 'e3'])), ['e1', 'e3']);
    });

    void it('records every entry change in the feed, in order, and prunes old events', async () => {
      await using db = await open();
      assert.deepEqual(await listEntryEventsSince(db, 0), {
        kind: 'changes',
        entryIds: [],
        seq: 0,
      });
      assert.deepEqual(await listEntryEventsSince(db, 3), { kind: 'resync', seq: 0 });
      const e1 = await create(db, entry('/a', [UID1], { id: 'e1' }), NOW + 1);
      await create(db, entry('/b', [UID1], { id: 'e2' }), NOW + 2);
      await assert.rejects(create(db, entry('/b', [UID1]), NOW + 2), rejectsWith('already-exists'));
      await db.transaction((tx) => updateEntry(tx, 'e1', e1, { now: NOW + 3 }));
      await db.transaction((tx) => deleteEntry(tx, 'e2', NOW + 4));
      const events = await db.query('SELECT seq, entry_id, at FROM entry_events ORDER BY seq');
      assert.deepEqual(events, [
        { seq: 1, entry_id: 'e1', at: NOW + 1 },
        { seq: 2, entry_id: 'e2', at: NOW + 2 },
        { seq: 3, entry_id: 'e1', at: NOW + 3 },
        { seq: 4, entry_id: 'e2', at: NOW + 4 },
      ]);
      const since = async (seq: number) => {
        const changes = await listEntryEventsSince(db, seq);
        return changes.kind === 'changes'
          ? { ...changes, entryIds: [...changes.entryIds].sort() }
          : changes;
      };
      assert.deepEqual(await since(0), { kind: 'changes', entryIds: ['e1', 'e2'], seq: 4 });
      assert.deepEqual(await since(2), { kind: 'changes', entryIds: ['e1', 'e2'], seq: 4 });
      assert.deepEqual(await since(3), { kind: 'changes', entryIds: ['e2'], seq: 4 });
      assert.deepEqual(await since(4), { kind: 'changes', entryIds: [], seq: 4 });
      assert.deepEqual(await since(5), { kind: 'resync', seq: 4 }, 'a seq from another feed');

      assert.equal(await pruneEntryEvents(db, NOW + 3), 2);
      assert.deepEqual(await since(0), { kind: 'resync', seq: 4 });
      assert.deepEqual(await since(1), { kind: 'resync', seq: 4 });
      assert.deepEqual(await since(2), { kind: 'changes', entryIds: ['e1', 'e2'], seq: 4 });
      assert.equal(await pruneEntryEvents(db, NOW + 1_000), 1, 'the newest event is kept');
      assert.deepEqual(await since(4), { kind: 'changes', entryIds: [], seq: 4 });
      assert.equal(await pruneEntryEvents(db, NOW + 1_000), 0);
      await create(db, entry('/c', [UID1], { id: 'e3' }), NOW + 5);
      assert.deepEqual(await since(4), { kind: 'changes', entryIds: ['e3'], seq: 5 });
    });

    void it('lets a reader following the feed see every change made by racing replicas', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      await using reader = await openStore(config);
      const seen = new Set<string>();
      let cursor = 0;
      const follow = async () => {
        const changes = await listEntryEventsSince(reader, cursor);
        assert.equal(changes.kind, 'changes');
        if (changes.kind === 'changes') changes.entryIds.forEach((e) => seen.add(e));
        cursor = changes.seq;
      };
      let writing = true;
      const following = (async () => {
        // SQLite answers in microtasks: yield to timers so that the writers can progress.
        while (writing) {
          await follow();
          await sleep(1);
        }
      })();
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          create(i % 2 ? a : b, entry(`/w${i}`, [UID1], { id: `w${i}` }), NOW + i),
        ),
      );
      writing = false;
      await following;
      await follow();
      assert.deepEqual([...seen].sort(), ids(created));
      const seqs = await a.query<{ seq: number }>('SELECT seq FROM entry_events ORDER BY seq');
      assert.deepEqual(
        seqs.map((r) => r.seq),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
    });

    void it('records attested agents, renews their serials, bans and evicts them', async () => {
      await using db = await open();
      const node = sel('x509pop', 'subject:cn:node-1');
      const agent = await db.transaction((tx) =>
        createAgent(
          tx,
          {
            spiffeId: AGENT,
            attestationType: 'x509pop',
            selectors: [node, sel('x509pop', 'ca:fingerprint:ab')],
            certSerialNumber: '0a1b',
            certNotAfter: NOW + 3_600_000,
          },
          NOW,
        ),
      );
      assert.deepEqual(await getAgent(db, AGENT), agent);
      assert.ok(agent.spiffeId instanceof SpiffeId);
      assert.deepEqual(agent.selectors, [sel('x509pop', 'ca:fingerprint:ab'), node]);
      assert.equal(agent.banned, false);
      assert.equal('newCertSerialNumber' in agent, false);
      await assert.rejects(
        db.transaction((tx) => createAgent(tx, { ...agent, certSerialNumber: 'ff' }, NOW)),
        rejectsWith('already-exists', /node-1 is already attested/),
      );

      const renewing = await updateAgentSerials(
        db,
        AGENT,
        { ...agent, newCertSerialNumber: '0c', newCertNotAfter: NOW + 7_200_000 },
        { now: NOW + 1, expectedCertSerialNumber: '0a1b' },
      );
      assert.equal(renewing.newCertSerialNumber, '0c');
      const renewed = await updateAgentSerials(
        db,
        AGENT,
        { certSerialNumber: '0c', certNotAfter: NOW + 7_200_000 },
        { now: NOW + 2, expectedCertSerialNumber: '0a1b' },
      );
      assert.equal(renewed.certSerialNumber, '0c');
      assert.equal('newCertSerialNumber' in renewed, false);
      assert.equal(renewed.updatedAt, NOW + 2);
      await assert.rejects(
        updateAgentSerials(db, AGENT, renewed, { now: NOW + 3, expectedCertSerialNumber: '0a1b' }),
        rejectsWith('failed-precondition', /holds SVID serial 0c/),
      );
      await assert.rejects(
        updateAgentSerials(db, AGENT, { ...renewed, certSerialNumber: '0C' }, { now: NOW }),
        rejectsWith('invalid-argument', /lowercase hex/),
      );
      await assert.rejects(
        updateAgentSerials(db, id('/agent/unknown'), renewed, { now: NOW }),
        rejectsWith('not-found'),
      );

      const others = ['node-3', 'node-2', 'node-5', 'node-4'].map((n) => id(`/agent/${n}`));
      for (const spiffeId of others) {
        await db.transaction((tx) =>
          createAgent(
            tx,
            {
              spiffeId,
              attestationType: 'join_token',
              selectors: [],
              certSerialNumber: '01',
              certNotAfter: NOW,
            },
            NOW,
          ),
        );
      }
      const walked: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await listAgents(db, {
          pageSize: 2,
          ...(token === undefined ? {} : { pageToken: token }),
        });
        walked.push(...page.agents.map((a) => a.spiffeId.toString()));
        token = page.nextPageToken;
        pages++;
      } while (token !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(
        walked,
        [1, 2, 3, 4, 5].map((n) => `spiffe://example.org/agent/node-${n}`),
      );
      assert.equal(await countAgents(db), 5);
      assert.equal(await countAgents(db, { byAttestationType: 'join_token' }), 4);
      assert.equal(await countAgents(db, { byCertNotAfterBefore: NOW + 1 }), 4);

      const banned = await banAgent(db, AGENT, NOW + 4);
      assert.equal(banned.banned, true);
      assert.deepEqual(
        (await listAgents(db, { byBanned: true })).agents.map((a) => a.spiffeId.toString()),
        [AGENT.toString()],
      );
      assert.equal(await countAgents(db, { byBanned: false }), 4);
      await assert.rejects(banAgent(db, id('/agent/unknown'), NOW), rejectsWith('not-found'));

      const bySelector = async (selectors: Selector[], match: SelectorMatch) =>
        (await listAgents(db, { bySelectors: { selectors, match } })).agents.map((a) =>
          a.spiffeId.toString(),
        );
      assert.deepEqual(await bySelector([node], 'any'), [AGENT.toString()]);
      const moved = await db.transaction((tx) =>
        setAgentSelectors(tx, AGENT, [sel('x509pop', 'subject:cn:node-1b')], NOW + 5),
      );
      assert.deepEqual(moved.selectors, [sel('x509pop', 'subject:cn:node-1b')]);
      assert.deepEqual(await bySelector([node], 'any'), []);
      assert.deepEqual(await bySelector([sel('x509pop', 'subject:cn:node-1b'), node], 'subset'), [
        AGENT.toString(),
      ]);

      const evicted = await deleteAgent(db, AGENT);
      assert.deepEqual(evicted, { ...moved, banned: true, updatedAt: NOW + 5 });
      assert.equal(await getAgent(db, AGENT), undefined);
      const rows = await db.query<{ n: number }>(
        'SELECT COUNT(*) AS n FROM node_selectors WHERE spiffe_id = $1',
        [AGENT.toString()],
      );
      assert.equal(rows[0]?.n, 0);
      await assert.rejects(deleteAgent(db, AGENT), rejectsWith('not-found'));
    });

    void it('consumes a join token once, stores only its hash and refuses expired ones', async () => {
      await using db = await open();
      const token = randomBytes(32).toString('hex');
      const record = await createJoinToken(
        db,
        { token, spiffeId: AGENT, expiresAt: NOW + 600_000 },
        NOW,
      );
      assert.equal(record.tokenHash, createHash('sha256').update(token).digest('hex'));
      const stored = JSON.stringify(await db.query('SELECT * FROM join_tokens'));
      assert.ok(stored.includes(record.tokenHash));
      for (const form of [token, Buffer.from(token).toString('base64'), token.toUpperCase()]) {
        assert.ok(!stored.toLowerCase().includes(form.toLowerCase()), 'the token is not stored');
      }
      await assert.rejects(
        createJoinToken(db, { token, expiresAt: NOW + 1 }, NOW),
        (error) => rejectsWith('already-exists')(error) && !String(error).includes(token),
      );

      const consumed = await consumeJoinToken(db, token, NOW + 1);
      assert.equal(consumed.kind, 'consumed');
      assert.ok(consumed.kind === 'consumed' && consumed.joinToken.spiffeId?.equals(AGENT));
      assert.deepEqual(await consumeJoinToken(db, token, NOW + 2), { kind: 'not-found' });
      assert.deepEqual(await consumeJoinToken(db, 'never-issued', NOW), { kind: 'not-found' });

      await createJoinToken(db, { token: 'short-lived', expiresAt: NOW + 10 }, NOW);
      const expired = await consumeJoinToken(db, 'short-lived', NOW + 10);
      assert.equal(expired.kind, 'expired');
      assert.ok(expired.kind === 'expired' && !('spiffeId' in expired.joinToken));
      assert.deepEqual(await consumeJoinToken(db, 'short-lived', NOW), { kind: 'not-found' });

      for (const [t, expiresAt] of [
        ['t1', NOW + 10],
        ['t2', NOW + 20],
        ['t3', NOW + 30],
      ] as const) {
        await createJoinToken(db, { token: t, expiresAt }, NOW);
      }
      assert.equal(await pruneJoinTokens(db, NOW + 20), 2);
      assert.deepEqual(await consumeJoinToken(db, 't2', NOW), { kind: 'not-found' });
      assert.equal((await consumeJoinToken(db, 't3', NOW + 29)).kind, 'consumed');
      await assert.rejects(createJoinToken(db, { token: '', expiresAt: NOW }, NOW), TypeError);
    });

    void it('gives a join token to exactly one of 20 concurrent consumers on two replicas', async () => {
      const config = await fixture.freshConfig();
      await using a = await openStore(config);
      await using b = await openStore(config);
      for (let round = 0; round < 3; round++) {
        const token = randomBytes(16).toString('hex');
        await createJoinToken(a, { token, expiresAt: NOW + 60_000 }, NOW);
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => consumeJoinToken(i % 2 ? a : b, token, NOW)),
        );
        assert.equal(outcomes.filter((o) => o.kind === 'consumed').length, 1);
        assert.equal(outcomes.filter((o) => o.kind === 'not-found').length, 19);
      }
    });

    void it('stores bundles and bumps the sequence number on every change', async () => {
      const config = await fixture.freshConfig();
      await using db = await openStore(config);
      await using other = await openStore(config);
      const ca = await makeTestCa();
      const td = parseTrustDomain('example.org');
      const jwtKey = (kid: string): [string, ReturnType<typeof createPublicKey>] => [
        kid,
        createPublicKey(generateKey('ec-p256')),
      ];
      const own: Bundle = {
        trustDomain: td,
        x509Authorities: [ca.root],
        jwtAuthorities: new Map([jwtKey('k1')]),
        refreshHint: 300,
      };
      assert.deepEqual(await setBundle(db, own, NOW), { sequenceNumber: 1, changed: true });
      assert.deepEqual(await setBundle(db, { ...own, sequenceNumber: 77n }, NOW + 1), {
        sequenceNumber: 1,
        changed: false,
      });
      const read = await getBundle(db, td);
      assert.equal(read?.sequenceNumber, 1n);
      assert.equal(read.refreshHint, 300);
      assert.deepEqual(Buffer.from(read.x509Authorities[0]?.raw ?? []), Buffer.from(ca.root.raw));
      assert.deepEqual([...read.jwtAuthorities.keys()], ['k1']);

      const rotated = { ...own, jwtAuthorities: new Map([...own.jwtAuthorities, jwtKey('k2')]) };
      assert.deepEqual(await setBundle(db, rotated, NOW + 2), { sequenceNumber: 2, changed: true });
      assert.equal((await getBundle(db, td))?.sequenceNumber, 2n);

      // Concurrent changes from two replicas each get their own sequence number.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          setBundle(
            i % 2 ? db : other,
            { ...own, jwtAuthorities: new Map([jwtKey(`r${i}`)]) },
            NOW + 3,
          ),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.sequenceNumber).sort((x, y) => x - y),
        Array.from({ length: 10 }, (_, i) => i + 3),
      );
      assert.equal((await getBundle(db, td))?.sequenceNumber, 12n);

      const federated = parseTrustDomain('other.org');
      const otherCa = await makeTestCa({ trustDomain: 'other.org' });
      await setBundle(
        db,
        { trustDomain: federated, x509Authorities: [otherCa.root], jwtAuthorities: new Map() },
        NOW,
      );
      assert.deepEqual(
        (await listBundles(db)).map((b) => [b.trustDomain.name, b.sequenceNumber]),
        [
          ['example.org', 12n],
          ['other.org', 1n],
        ],
      );
      await deleteBundle(db, federated);
      assert.equal(await getBundle(db, federated), undefined);
      await assert.rejects(deleteBundle(db, federated), rejectsWith('not-found', /other\.org/));
      assert.equal((await listBundles(db)).length, 1);
    });

    void it('journals CA authorities and allows only the rotation status changes', async () => {
      const config = await fixture.freshConfig();
      await using db = await openStore(config);
      await using other = await openStore(config);
      const ca = await makeTestCa();
      const upstream = await makeTestCa({ trustDomain: 'enterprise-root.example' });
      const spki = (): Uint8Array =>
        createPublicKey(generateKey('ec-p256')).export({ type: 'spki', format: 'der' });
      const x509 = await saveAuthority(
        db,
        {
          id: 'x1',
          kind: 'x509',
          keyId: 'x509-key-1',
          publicKey: spki(),
          certificate: ca.root.raw,
          notBefore: NOW,
          notAfter: NOW + 86_400_000,
          upstreamChain: [upstream.root.raw],
        },
        NOW,
      );
      assert.equal(x509.status, 'prepared');
      const jwt = await saveAuthority(
        db,
        {
          kind: 'jwt',
          keyId: 'x509-key-1',
          publicKey: spki(),
          notBefore: NOW - 1,
          notAfter: NOW + 1,
        },
        NOW,
      );
      assert.deepEqual(await getAuthority(db, 'x1'), x509);
      assert.deepEqual(await listAuthorities(db, 'jwt'), [jwt]);
      const [listed] = await listAuthorities(db, 'x509');
      assert.deepEqual(Buffer.from(listed?.upstreamChain[0] ?? []), Buffer.from(upstream.root.raw));
      assert.deepEqual(Buffer.from(listed?.certificate ?? []), Buffer.from(ca.root.raw));

      const base = { kind: 'x509' as const, publicKey: spki(), notBefore: NOW, notAfter: NOW + 1 };
      await assert.rejects(
        saveAuthority(db, { ...base, keyId: 'x509-key-1', certificate: ca.root.raw }, NOW),
        rejectsWith('already-exists'),
      );
      await assert.rejects(saveAuthority(db, { ...base, keyId: 'k' }, NOW), TypeError);
      await assert.rejects(
        saveAuthority(db, { ...base, kind: 'jwt', keyId: 'k', certificate: ca.root.raw }, NOW),
        TypeError,
      );
      // The table's own checks hold even for a writer that bypasses saveAuthority.
      await assert.rejects(
        db.execute(
          `INSERT INTO ca_authorities (id, kind, key_id, status, public_key, certificate,
             not_before, not_after, upstream_chain, created_at, updated_at)
           VALUES ('bad', 'jwt', 'k', 'active', $1, $1, 0, 1, '[]', 0, 0)`,
          [spki()],
        ),
        rejectsWith('failed-precondition'),
      );

      const step = (status: Parameters<typeof setAuthorityStatus>[2], now = NOW + 1) =>
        setAuthorityStatus(db, 'x1', status, now);
      await assert.rejects(step('tainted'), rejectsWith('failed-precondition', /is prepared/));
      assert.equal((await step('active')).status, 'active');
      await assert.rejects(step('tainted'), rejectsWith('failed-precondition', /only old can/));
      await assert.rejects(step('revoked'), rejectsWith('failed-precondition'));
      const old = await step('old', NOW + 2);
      assert.equal(old.updatedAt, NOW + 2);
      const racing = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          setAuthorityStatus(i % 2 ? db : other, 'x1', 'tainted', NOW + 3),
        ),
      );
      assert.equal(racing.filter((r) => r.status === 'fulfilled').length, 1);
      assert.equal((await step('revoked')).status, 'revoked');
      await assert.rejects(step('active'), rejectsWith('failed-precondition', /is revoked/));
      await assert.rejects(step('prepared'), rejectsWith('failed-precondition'));
      await assert.rejects(
        setAuthorityStatus(db, 'missing', 'active', NOW),
        rejectsWith('not-found'),
      );
    });
  });
}

describeIdentityStore('SQLite', async () => {
  const dir = await makeTempDir('parley-identity-store-');
  let n = 0;
  return {
    freshConfig: async () => ({ sqlite: { path: join(dir.path, `store-${++n}.db`) } }),
    close: () => dir.remove(),
  };
});

describeIdentityStore('PostgreSQL', async () => {
  const server = await startPostgres();
  let n = 0;
  return {
    freshConfig: async () => ({
      postgres: { url: await createDatabase(server, `identity_${++n}`) },
    }),
    close: () => server.stop(),
  };
});
