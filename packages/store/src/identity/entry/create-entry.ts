import { randomUUID } from 'node:crypto';
import { ParleyError, invalidArgument } from '@parley/core';
import type { Transaction } from '../../database.js';
import {
  appendEntryEvent,
  beginEntryChange,
  duplicateEntry,
  findSameEntry,
  insertEntrySelectors,
} from './entry-writes.js';
import type { NewRegistrationEntry, RegistrationEntry } from './registration-entry.js';
import { FIELD_COLUMNS, checkEntryFields } from './registration-entry.js';

/** Entry ids: 1 to 255 printable ASCII characters without spaces (UUIDs when generated). */
const ENTRY_ID = /^[\x21-\x7e]{1,255}$/;

/**
 * Creates a registration entry in `tx` at `now` (ms), with revision 0 and an event in the change
 * feed. Fails with `already-exists` when the id is taken or an entry with the same SPIFFE ID,
 * parent ID and selector set exists (as SPIRE does). Callers that audit append the audit event in
 * the same transaction, after this call.
 */
export async function createEntry(
  tx: Transaction,
  entry: NewRegistrationEntry,
  now: number,
): Promise<RegistrationEntry> {
  await beginEntryChange('createEntry', tx, now);
  const id = entry.id ?? randomUUID();
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) {
    throw invalidArgument(
      'registration entry id must be 1 to 255 printable ASCII characters without spaces',
    );
  }
  const { fields, values, selectorsHash } = checkEntryFields(entry);
  const columns = ['id', ...FIELD_COLUMNS, 'revision', 'created_at', 'updated_at'];
  const inserted = await tx.execute(
    `INSERT INTO registration_entries (${columns.join(', ')})
     VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT DO NOTHING`,
    [id, ...values, 0, now, now],
  );
  if (inserted === 0) {
    // Under the entries' lock, the conflicting row is still there to name.
    const same = await findSameEntry(
      tx,
      { spiffeId: fields.spiffeId.toString(), parentId: fields.parentId.toString(), selectorsHash },
      id,
    );
    if (same !== undefined) throw duplicateEntry(same);
    throw new ParleyError(
      'already-exists',
      `registration entry ${JSON.stringify(id)} already exists`,
    );
  }
  await insertEntrySelectors(tx, id, fields.selectors);
  await appendEntryEvent(tx, id, now);
  return { id, ...fields, revision: 0, createdAt: now, updatedAt: now };
}
