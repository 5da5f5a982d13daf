import type { AuthorityChangeDto, AuthorityDto, AuthorityListDto } from '@parley/identity';
import { type CliIo, UsageError } from '../command.js';
import { ADMIN_FLAGS, connect, parseAdminFlags, required } from './admin-flags.js';
import { type AdminCommand, COMMON_USAGE } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const READ_FORMATS = ['table', 'json', 'yaml'] as const;
const VERBS = ['show', 'prepare', 'activate', 'taint', 'revoke'] as const;
type Verb = (typeof VERBS)[number];

function renderAuthority(a: AuthorityDto): string {
  return renderFields([
    ['Authority ID', a.id],
    ['Kind', a.kind],
    ['Status', a.status],
    ['Key type', a.keyType],
    ['Issued at', a.issuedAt],
    ['Not after', a.notAfter],
    ...(a.upstreamAuthorityId === undefined
      ? []
      : [['Upstream authority', a.upstreamAuthorityId] as const]),
  ]);
}

async function run(kind: 'x509' | 'jwt', verb: Verb, args: readonly string[], io: CliIo) {
  const { values } = parseAdminFlags(args, { ...ADMIN_FLAGS, id: { type: 'string' } });
  const format = outputFormat(values.output, READ_FORMATS, 'table');
  const client = connect(values, io);
  const base = `/v1/authorities/${kind}`;
  if (verb === 'show') {
    if (values.id !== undefined) throw new UsageError('authority show takes no --id');
    const list = await client.get<AuthorityListDto>(base);
    io.stdout(
      format === 'table'
        ? renderTable(
            ['ID', 'STATUS', 'KEY TYPE', 'ISSUED AT', 'NOT AFTER'],
            list.authorities.map((a) => [a.id, a.status, a.keyType, a.issuedAt, a.notAfter]),
          )
        : renderData(format, list),
    );
    return 0;
  }
  let changed: AuthorityChangeDto;
  switch (verb) {
    case 'prepare':
      if (values.id !== undefined) throw new UsageError('authority prepare takes no --id');
      changed = await client.post<AuthorityChangeDto>(`${base}/prepare`);
      break;
    case 'activate':
      changed = await client.post<AuthorityChangeDto>(
        `${base}/activate`,
        values.id === undefined ? {} : { id: values.id },
      );
      break;
    case 'taint':
    case 'revoke':
      changed = await client.post<AuthorityChangeDto>(`${base}/${verb}`, {
        id: required(values.id, 'id', `authority ${kind} ${verb}`),
      });
      break;
  }
  io.stdout(format === 'table' ? renderAuthority(changed.authority) : renderData(format, changed));
  return 0;
}

/**
 * `parley authority x509|jwt show|prepare|activate|taint|revoke [--id ID]`: the CA's signing
 * authorities and their manual rotation (SPIRE's `localauthority`).
 */
export const authorityCommand: AdminCommand = {
  summary:
    'CA signing authorities: authority x509|jwt show|prepare|activate|taint|revoke [--id ID]',
  usage: `Usage:
  parley authority x509|jwt show               every authority, oldest first
  parley authority x509|jwt prepare            a new authority: published in the bundle, not signing
  parley authority x509|jwt activate [--id ID] the prepared one starts signing; the active one is old
  parley authority x509|jwt taint --id ID      an old one: agents re-issue what it signed
  parley authority x509|jwt revoke --id ID     a tainted one leaves the bundle
Output: -o table|json|yaml
${COMMON_USAGE}`,
  run: async (args, io) => {
    const [kind, verb, ...rest] = args;
    if (kind === 'help' && verb === undefined) {
      io.stdout(authorityCommand.usage);
      return 0;
    }
    if (kind !== 'x509' && kind !== 'jwt')
      throw new UsageError(
        'authority needs a kind: authority x509|jwt show|prepare|activate|taint|revoke',
      );
    if (verb === undefined || !(VERBS as readonly string[]).includes(verb))
      throw new UsageError(`authority ${kind} needs a subcommand: ${VERBS.join('|')}`);
    return run(kind, verb as Verb, rest, io);
  },
};
