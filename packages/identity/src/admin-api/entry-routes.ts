import {
  ParleyError,
  type SpiffeId,
  invalidArgument,
  isParleyError,
  parseSpiffeId,
} from '@parley/core';
import {
  type EntryFilter,
  type RegistrationEntry,
  type SelectorMatch,
  appendAudit,
  createEntry,
  deleteEntry,
  getEntry,
  listEntries,
  updateEntry,
} from '@parley/store';
import { parseSelector } from '@parley/core';
import type { AdminApiDeps } from './admin-api-deps.js';
import { adminAuditEvent } from './admin-audit.js';
import type { EntryBatchDto, EntryPageDto, EntryResultDto } from './admin-dto.js';
import { entryDto, readEntryInput, storeEntryInput } from './entry-input.js';
import { readRequest } from './request-reader.js';
import { type Route, type RouteRequest, queryOne } from './route.js';

/** The most entries one batch request may create. */
export const MAX_BATCH_ENTRIES = 500;

const MATCHES: readonly SelectorMatch[] = ['exact', 'subset', 'superset', 'any'];

/** Reads a page size from the query: a non-negative integer (the store caps it). */
export function queryPageSize(req: RouteRequest): number | undefined {
  const text = queryOne(req, 'pageSize');
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw invalidArgument('pageSize must be a non-negative integer');
  return Number(text);
}

function querySpiffeId(req: RouteRequest, key: string): SpiffeId | undefined {
  const text = queryOne(req, key);
  return text === undefined ? undefined : parseSpiffeId(text);
}

function entryFilter(req: RouteRequest): EntryFilter {
  const bySpiffeId = querySpiffeId(req, 'spiffeId');
  const byParentId = querySpiffeId(req, 'parentId');
  const selectors = (req.query.get('selector') ?? []).map(parseSelector);
  const match = queryOne(req, 'match') ?? 'superset';
  if (!(MATCHES as readonly string[]).includes(match))
    throw invalidArgument(`match must be one of ${MATCHES.join(', ')}`);
  if (req.query.has('match') && selectors.length === 0)
    throw invalidArgument('match needs at least one selector');
  return {
    ...(bySpiffeId === undefined ? {} : { bySpiffeId }),
    ...(byParentId === undefined ? {} : { byParentId }),
    ...(selectors.length === 0
      ? {}
      : { bySelectors: { selectors, match: match as SelectorMatch } }),
  };
}

function entryDetail(e: RegistrationEntry) {
  return { spiffeId: e.spiffeId.toString(), parentId: e.parentId.toString(), revision: e.revision };
}

/** The registration entry endpoints: create (one or a batch), show, list, update, delete. */
export function entryRoutes(deps: AdminApiDeps): Route[] {
  const td = deps.trustDomain;

  async function create(body: unknown, what: string): Promise<RegistrationEntry> {
    const input = readRequest(body, what, (r, problems) => readEntryInput(r, problems, true));
    const entry = storeEntryInput(td, input);
    return deps.db.transaction(async (tx) => {
      const created = await createEntry(tx, entry, deps.clock.now());
      await appendAudit(
        tx,
        adminAuditEvent(deps, 'entry.create', created.id, entryDetail(created)),
      );
      return created;
    });
  }

  return [
    {
      method: 'POST',
      path: '/v1/entries',
      body: true,
      handle: async ({ body }) => ({ status: 201, body: entryDto(await create(body, 'entry')) }),
    },
    {
      method: 'POST',
      path: '/v1/entries/batch',
      body: true,
      handle: async ({ body }) => {
        const items = readRequest(body, 'entry batch', (r) => {
          if (!r.has('entries')) r.problem('entries', 'is required');
          return r.array('entries', (v) => v);
        });
        if (items.length > MAX_BATCH_ENTRIES)
          throw invalidArgument(`a batch creates at most ${MAX_BATCH_ENTRIES} entries`);
        const results: EntryResultDto[] = [];
        // Each item in its own transaction: one bad entry does not undo the others (as SPIRE).
        for (const [i, item] of items.entries()) {
          try {
            results.push({ entry: entryDto(await create(item, `entries[${i}]`)) });
          } catch (err) {
            if (!isParleyError(err) || err.code === 'internal') {
              deps.log?.('admin API: batch entry creation failed', err);
              results.push({ error: { code: 'internal', message: 'internal error' } });
            } else {
              results.push({ error: { code: err.code, message: err.message } });
            }
          }
        }
        const dto: EntryBatchDto = { results };
        return { body: dto };
      },
    },
    {
      method: 'GET',
      path: '/v1/entries',
      query: {
        spiffeId: 'one',
        parentId: 'one',
        selector: 'many',
        match: 'one',
        pageSize: 'one',
        pageToken: 'one',
      },
      handle: async (req) => {
        const pageSize = queryPageSize(req);
        const pageToken = queryOne(req, 'pageToken');
        const page = await listEntries(deps.db, {
          ...entryFilter(req),
          ...(pageSize === undefined ? {} : { pageSize }),
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        const dto: EntryPageDto = {
          entries: page.entries.map(entryDto),
          ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
        };
        return { body: dto };
      },
    },
    {
      method: 'GET',
      path: '/v1/entries/:id',
      handle: async ({ params }) => {
        const id = params['id'] ?? '';
        const entry = await getEntry(deps.db, id);
        if (entry === undefined)
          throw new ParleyError(
            'not-found',
            `registration entry ${JSON.stringify(id.slice(0, 128))} not found`,
          );
        return { body: entryDto(entry) };
      },
    },
    {
      method: 'PUT',
      path: '/v1/entries/:id',
      body: true,
      handle: async ({ params, body }) => {
        const id = params['id'] ?? '';
        const { input, revision } = readRequest(body, 'entry update', (r, problems) => ({
          input: readEntryInput(r, problems, false),
          revision: r.integer('revision'),
        }));
        const fields = storeEntryInput(td, input);
        const updated = await deps.db.transaction(async (tx) => {
          const now = deps.clock.now();
          const entry = await updateEntry(tx, id, fields, { now, expectedRevision: revision });
          await appendAudit(tx, adminAuditEvent(deps, 'entry.update', id, entryDetail(entry)));
          return entry;
        });
        return { body: entryDto(updated) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/entries/:id',
      handle: async ({ params }) => {
        const id = params['id'] ?? '';
        const deleted = await deps.db.transaction(async (tx) => {
          const entry = await deleteEntry(tx, id, deps.clock.now());
          await appendAudit(tx, adminAuditEvent(deps, 'entry.delete', id, entryDetail(entry)));
          return entry;
        });
        return { body: entryDto(deleted) };
      },
    },
  ];
}
