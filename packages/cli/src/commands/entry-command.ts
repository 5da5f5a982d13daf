import { readFile } from 'node:fs/promises';
import { ParleyError, parseSpiffeId, parseTrustDomain } from '@parley/core';
import {
  type EntryBatchDto,
  type EntryDto,
  type EntryInputDto,
  type EntryPageDto,
  type EntryUpdateDto,
  MAX_BODY_BYTES,
  formatTimestamp,
  parseTimestamp,
} from '@parley/identity';
import { formatSelector, parseSelector } from '@parley/core';
import { type AdminClient, pathSegment } from '../admin-client.js';
import { type CliIo, UsageError } from '../command.js';
import {
  ADMIN_FLAGS,
  connect,
  parseAdminFlags,
  flagValue,
  required,
  secondsFlag,
} from './admin-flags.js';
import { COMMON_USAGE, commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const READ_FORMATS = ['table', 'json', 'yaml'] as const;

/** The flags that set an entry's fields (create and update). */
const FIELD_FLAGS = {
  'spiffe-id': { type: 'string' },
  'parent-id': { type: 'string' },
  selector: { type: 'string', multiple: true },
  'x509-ttl': { type: 'string' },
  'jwt-ttl': { type: 'string' },
  dns: { type: 'string', multiple: true },
  'federates-with': { type: 'string', multiple: true },
  hint: { type: 'string' },
  admin: { type: 'boolean' },
  downstream: { type: 'boolean' },
  'expires-at': { type: 'string' },
} as const;

interface FieldValues {
  readonly 'spiffe-id'?: string | undefined;
  readonly 'parent-id'?: string | undefined;
  readonly selector?: string[] | undefined;
  readonly 'x509-ttl'?: string | undefined;
  readonly 'jwt-ttl'?: string | undefined;
  readonly dns?: string[] | undefined;
  readonly 'federates-with'?: string[] | undefined;
  readonly hint?: string | undefined;
  readonly admin?: boolean | undefined;
  readonly downstream?: boolean | undefined;
  readonly 'expires-at'?: string | undefined;
}

/** `--expires-at`: an RFC 3339 time or Unix seconds, as the wire's RFC 3339 (`never`: none). */
function expiresAtFlag(text: string): string | undefined {
  if (text === 'never') return undefined;
  return flagValue('expires-at', text, (t) =>
    formatTimestamp(/^\d{1,12}$/.test(t) ? Number(t) * 1000 : parseTimestamp(t)),
  );
}

/** The fields the flags set, checked locally so bad input is a usage error (the server re-checks). */
function fieldsFromFlags(v: FieldValues): Partial<EntryInputDto> {
  const spiffeId = v['spiffe-id'];
  const parentId = v['parent-id'];
  if (spiffeId !== undefined) flagValue('spiffe-id', spiffeId, parseSpiffeId);
  if (parentId !== undefined) flagValue('parent-id', parentId, parseSpiffeId);
  const selectors = v.selector?.map((s) => flagValue('selector', s, parseSelector));
  v['federates-with']?.forEach((td) => flagValue('federates-with', td, parseTrustDomain));
  const x509 = v['x509-ttl'];
  const jwt = v['jwt-ttl'];
  const expires = v['expires-at'];
  const expiresAt = expires === undefined ? undefined : expiresAtFlag(expires);
  return {
    ...(spiffeId === undefined ? {} : { spiffeId }),
    ...(parentId === undefined ? {} : { parentId }),
    ...(selectors === undefined ? {} : { selectors }),
    ...(x509 === undefined ? {} : { x509SvidTtl: secondsFlag('x509-ttl', x509, 0) }),
    ...(jwt === undefined ? {} : { jwtSvidTtl: secondsFlag('jwt-ttl', jwt, 0) }),
    ...(v.dns === undefined ? {} : { dnsNames: v.dns }),
    ...(v['federates-with'] === undefined ? {} : { federatesWith: v['federates-with'] }),
    ...(v.hint === undefined ? {} : { hint: v.hint }),
    ...(v.admin === undefined ? {} : { admin: v.admin }),
    ...(v.downstream === undefined ? {} : { downstream: v.downstream }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

const ttlText = (seconds: number) => (seconds === 0 ? 'default' : `${seconds}s`);
const list = (items: readonly string[]) => (items.length === 0 ? '-' : items.join(', '));

/** The table form of one entry. */
export function renderEntry(e: EntryDto): string {
  return renderFields([
    ['Entry ID', e.id],
    ['SPIFFE ID', e.spiffeId],
    ['Parent ID', e.parentId],
    ['Revision', String(e.revision)],
    ['Selectors', list(e.selectors.map(formatSelector))],
    ['X509-SVID TTL', ttlText(e.x509SvidTtl)],
    ['JWT-SVID TTL', ttlText(e.jwtSvidTtl)],
    ['DNS names', list(e.dnsNames)],
    ['Federates with', list(e.federatesWith)],
    ['Hint', e.hint === '' ? '-' : e.hint],
    ['Admin', String(e.admin)],
    ['Downstream', String(e.downstream)],
    ['Expires at', e.expiresAt ?? 'never'],
    ['Created at', e.createdAt],
    ['Updated at', e.updatedAt],
  ]);
}

function printEntry(io: CliIo, format: (typeof READ_FORMATS)[number], e: EntryDto): void {
  io.stdout(format === 'table' ? renderEntry(e) : renderData(format, e));
}

async function createBatch(
  client: AdminClient,
  file: string,
  io: CliIo,
  format: (typeof READ_FORMATS)[number],
) {
  let text: string;
  try {
    const data = await readFile(file);
    if (data.length > MAX_BODY_BYTES)
      throw new ParleyError('invalid-argument', `${file} exceeds ${MAX_BODY_BYTES} bytes`);
    text = data.toString('utf8');
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    throw new ParleyError(
      'not-found',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ParleyError('invalid-argument', `${file} is not JSON: expected {"entries": [...]}`);
  }
  const { results } = await client.post<EntryBatchDto>('/v1/entries/batch', body);
  if (format !== 'table') io.stdout(renderData(format, { results }));
  let failed = 0;
  for (const [i, r] of results.entries()) {
    if ('entry' in r) {
      if (format === 'table') io.stdout(`created entry ${r.entry.id} (${r.entry.spiffeId})\n`);
    } else {
      failed++;
      io.stderr(`parley: entries[${i}]: ${r.error.message}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function listAll(client: AdminClient, query: Record<string, string | string[] | undefined>) {
  const entries: EntryDto[] = [];
  let pageToken: string | undefined;
  do {
    const page: EntryPageDto = await client.get<EntryPageDto>('/v1/entries', {
      ...query,
      pageToken,
    });
    entries.push(...page.entries);
    // A server repeating a token would make this walk endless.
    if (page.nextPageToken !== undefined && page.nextPageToken === pageToken)
      throw new ParleyError('internal', 'the admin API repeated a page token');
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return entries;
}

/** `parley entry create|update|show|list|delete`: registration entries (DESIGN §4). */
export const entryCommand = commandGroup(
  'entry',
  'registration entries: entry create|update|show|list|delete (create --file F: a batch)',
  `Usage:
  parley entry create --spiffe-id ID --parent-id ID --selector T:V [--selector T:V]… [fields]
  parley entry create --file F          a batch: {"entries": [{"spiffeId", "parentId",
                                        "selectors": [{"type", "value"}], …}]}
  parley entry update --id ID [fields]  changes the fields given, keeps the others
  parley entry show --id ID
  parley entry list [--spiffe-id ID] [--parent-id ID] [--selector T:V]… [--match superset|exact|subset|any]
  parley entry delete --id ID

Fields:
  --id ID                  the entry ID (create; default: a UUID)
  --x509-ttl D             X509-SVID lifetime (0: the server default)
  --jwt-ttl D              JWT-SVID lifetime (0: the server default)
  --dns NAME               a DNS name (repeatable)
  --federates-with TD      a trust domain whose bundle workloads receive (repeatable)
  --hint TEXT, --admin, --downstream (update: --no-admin, --no-downstream)
  --expires-at TIME        RFC 3339 or Unix seconds (update: never to clear)
Output: -o table|json|yaml
${COMMON_USAGE}`,
  {
    create: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        ...FIELD_FLAGS,
        id: { type: 'string' },
        file: { type: 'string' },
      });
      const format = outputFormat(values.output, READ_FORMATS, 'table');
      const client = connect(values, io);
      if (values.file !== undefined) {
        const { socket: _s, output: _o, file: _f, ...fields } = values;
        if (Object.keys(fields).length > 0)
          throw new UsageError(
            'entry create --file takes no entry flags: the file has the entries',
          );
        return createBatch(client, values.file, io, format);
      }
      const fields = fieldsFromFlags(values);
      if (
        fields.spiffeId === undefined ||
        fields.parentId === undefined ||
        fields.selectors === undefined
      )
        throw new UsageError(
          'entry create needs --spiffe-id, --parent-id and at least one --selector (or --file F)',
        );
      const input: EntryInputDto = {
        ...fields,
        spiffeId: fields.spiffeId,
        parentId: fields.parentId,
        selectors: fields.selectors,
        ...(values.id === undefined ? {} : { id: values.id }),
      };
      printEntry(io, format, await client.post<EntryDto>('/v1/entries', input));
      return 0;
    },

    update: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        ...FIELD_FLAGS,
        id: { type: 'string' },
        'no-admin': { type: 'boolean' },
        'no-downstream': { type: 'boolean' },
      });
      const format = outputFormat(values.output, READ_FORMATS, 'table');
      const id = required(values.id, 'id', 'entry update');
      if ((values.admin && values['no-admin']) || (values.downstream && values['no-downstream']))
        throw new UsageError(
          '--admin/--no-admin and --downstream/--no-downstream exclude each other',
        );
      const changes = fieldsFromFlags(values);
      const client = connect(values, io);
      // Read, change, write back with the revision read: a concurrent change is refused, not lost.
      const current = await client.get<EntryDto>(`/v1/entries/${pathSegment(id)}`);
      const { id: _id, createdAt: _c, updatedAt: _u, expiresAt, ...kept } = current;
      const clearExpiry = values['expires-at'] === 'never';
      const update: EntryUpdateDto = {
        ...kept,
        ...(expiresAt === undefined || clearExpiry ? {} : { expiresAt }),
        ...changes,
        ...(values['no-admin'] === true ? { admin: false } : {}),
        ...(values['no-downstream'] === true ? { downstream: false } : {}),
      };
      printEntry(io, format, await client.put<EntryDto>(`/v1/entries/${pathSegment(id)}`, update));
      return 0;
    },

    show: async (args, io) => {
      const { values } = parseAdminFlags(args, { ...ADMIN_FLAGS, id: { type: 'string' } });
      const format = outputFormat(values.output, READ_FORMATS, 'table');
      const id = required(values.id, 'id', 'entry show');
      printEntry(
        io,
        format,
        await connect(values, io).get<EntryDto>(`/v1/entries/${pathSegment(id)}`),
      );
      return 0;
    },

    list: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        'spiffe-id': FIELD_FLAGS['spiffe-id'],
        'parent-id': FIELD_FLAGS['parent-id'],
        selector: FIELD_FLAGS.selector,
        match: { type: 'string' },
      });
      const format = outputFormat(values.output, READ_FORMATS, 'table');
      const fields = fieldsFromFlags(values);
      if (values.match !== undefined && fields.selectors === undefined)
        throw new UsageError('--match needs at least one --selector');
      if (
        values.match !== undefined &&
        !['exact', 'subset', 'superset', 'any'].includes(values.match)
      )
        throw new UsageError('--match must be one of exact, subset, superset, any');
      const entries = await listAll(connect(values, io), {
        spiffeId: fields.spiffeId,
        parentId: fields.parentId,
        selector: values.selector,
        match: values.match,
      });
      io.stdout(
        format === 'table'
          ? renderTable(
              ['ID', 'SPIFFE ID', 'PARENT ID', 'SELECTORS', 'X509 TTL', 'JWT TTL', 'REVISION'],
              entries.map((e) => [
                e.id,
                e.spiffeId,
                e.parentId,
                e.selectors.map(formatSelector).join(','),
                ttlText(e.x509SvidTtl),
                ttlText(e.jwtSvidTtl),
                String(e.revision),
              ]),
            )
          : renderData(format, { entries }),
      );
      return 0;
    },

    delete: async (args, io) => {
      const { values } = parseAdminFlags(args, { ...ADMIN_FLAGS, id: { type: 'string' } });
      const format = outputFormat(values.output, READ_FORMATS, 'table');
      const id = required(values.id, 'id', 'entry delete');
      const deleted = await connect(values, io).delete<EntryDto>(`/v1/entries/${pathSegment(id)}`);
      io.stdout(
        format === 'table'
          ? `deleted entry ${deleted.id} (${deleted.spiffeId})\n`
          : renderData(format, deleted),
      );
      return 0;
    },
  },
);
