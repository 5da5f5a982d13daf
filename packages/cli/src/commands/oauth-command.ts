import { UsageError } from '../command.js';
import { ADMIN_FLAGS, connect, parseAdminFlags } from './admin-flags.js';
import { commandGroup } from './command-group.js';
import { outputFormat, renderData, renderTable } from './output.js';

interface KeysJson {
  readonly issuer: string;
  readonly keys: readonly {
    readonly kid: string;
    readonly alg: string;
    readonly serverId: string;
    readonly activeFrom: string;
    readonly activeUntil: string;
  }[];
  /** Set by a rotation: when the next key signs. */
  readonly switchesAt?: string;
}

/** `parley oauth keys [rotate]`: the OAuth server's published signing keys, and a rotation. */
export const oauthCommand = commandGroup(
  'oauth',
  'the OAuth server (tokens module): oauth keys [rotate]',
  `Usage:
  parley oauth keys [--socket PATH] [-o table|json|yaml]
      The issuer and the signing keys its JWK Set publishes (every server replica's: retired keys
      until their tokens expire, the active ones, the next ones).
  parley oauth keys rotate [--socket PATH] [-o table|json|yaml]
      Forces a rotation: the next key signs once it has been published for signing.publishLead
      (at once when it has; default 2m, so validators' cached JWK Sets hold it first). Tokens
      signed before stay valid until they expire. Prints when the switch happens and the keys.
Exit codes: 0 success, 1 failed operation, 2 usage error.
`,
  {
    keys: async (args, io) => {
      const { values, positionals } = parseAdminFlags(args, ADMIN_FLAGS, 1);
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const [verb, ...rest] = positionals;
      if (rest.length > 0 || (verb !== undefined && verb !== 'rotate')) {
        throw new UsageError('usage: parley oauth keys [rotate]');
      }
      const client = connect(values, io);
      const keys =
        verb === 'rotate'
          ? await client.post<KeysJson>('/v1/oauth/keys/rotate')
          : await client.get<KeysJson>('/v1/oauth/keys', {});
      io.stdout(
        format !== 'table'
          ? renderData(format, keys)
          : `issuer: ${keys.issuer}\n${
              keys.switchesAt === undefined ? '' : `next key signs from: ${keys.switchesAt}\n`
            }${renderTable(
              ['KID', 'ALG', 'SIGNS FROM', 'UNTIL', 'SERVER'],
              keys.keys.map((k) => [k.kid, k.alg, k.activeFrom, k.activeUntil, k.serverId]),
            )}\n`,
      );
      return 0;
    },
  },
);
