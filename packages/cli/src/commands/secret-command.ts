import { readFile } from 'node:fs/promises';
import { ParleyError, parseDuration, sleep, systemClock } from '@parley/core';
import { parse as parseYaml } from 'yaml';
import type { AdminClient } from '../admin-client.js';
import { type CliIo, UsageError } from '../command.js';
import { ADMIN_FLAGS, connect, flagValue, parseAdminFlags } from './admin-flags.js';
import { commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const KV = '/v1/secret';
const SYS = '/v1/sys/parley';

interface VaultBody<T> {
  readonly data: T;
}

interface VersionJson {
  readonly version: number;
  readonly created_time: string;
  readonly deletion_time: string;
  readonly destroyed: boolean;
}

interface MetadataJson {
  readonly current_version: number;
  readonly oldest_version: number;
  readonly max_versions: number;
  readonly cas_required: boolean;
  readonly delete_version_after: string;
  readonly custom_metadata: Record<string, string> | null;
  readonly versions: Record<string, Omit<VersionJson, 'version'>>;
}

interface RotationJson {
  readonly path: string;
  readonly current_version: number;
  readonly previous_version: number | null;
  readonly previous_valid_until: string | null;
  readonly consumers: readonly {
    readonly spiffe_id: string;
    readonly last_read_version: number;
    readonly last_read_at: string;
    readonly has_current: boolean;
  }[];
}

/** A secret path as given: checked by the server (which refuses, never normalizes, bad ones). */
function pathArg(positionals: readonly string[], command: string): string {
  const [path, ...rest] = positionals;
  if (path === undefined) throw new UsageError(`secret ${command} needs a PATH`);
  if (rest.length > 0 && command !== 'put' && command !== 'rotate') {
    throw new UsageError(`secret ${command} takes one PATH`);
  }
  if (path.includes('?') || path.includes('#')) throw new UsageError('PATH must not hold ? or #');
  return path;
}

/** `KEY=VALUE` arguments as a secret's data (a value may contain `=`). */
function pairs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected KEY=VALUE, not "${a.slice(0, 32)}"`);
    Object.defineProperty(out, a.slice(0, eq), {
      value: a.slice(eq + 1),
      enumerable: true,
      writable: true,
    });
  }
  return out;
}

function versionsFlag(text: string): number[] {
  return flagValue('versions', text, (t) =>
    t.split(',').map((v) => {
      if (!/^[1-9][0-9]{0,9}$/.test(v))
        throw new ParleyError('invalid-argument', `bad version "${v}"`);
      return Number(v);
    }),
  );
}

async function readDocument(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new ParleyError('failed-precondition', `cannot read ${file}`, { cause: err });
  });
  return file.endsWith('.json') ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
}

function rotationFields(s: RotationJson): string {
  return (
    renderFields([
      ['path', s.path],
      ['current version', String(s.current_version)],
      ['previous version', s.previous_version === null ? '(revoked)' : String(s.previous_version)],
      ['previous valid until', s.previous_valid_until ?? '-'],
    ]) +
    renderTable(
      ['CONSUMER', 'LAST READ', 'AT', 'HAS CURRENT'],
      s.consumers.map((c) => [
        c.spiffe_id,
        String(c.last_read_version),
        c.last_read_at,
        c.has_current ? 'yes' : 'no',
      ]),
    )
  );
}

/**
 * Waits until every consumer of the rotated secret has read the current version (then revokes
 * the previous one early) or until the grace period ends (the server revokes it then).
 */
async function waitForConsumers(
  client: AdminClient,
  path: string,
  timeoutMs: number,
  io: CliIo,
): Promise<RotationJson> {
  const deadline = systemClock.now() + timeoutMs;
  for (;;) {
    const { data } = await client.get<VaultBody<RotationJson>>(`${SYS}/rotation/${path}`);
    if (data.previous_version === null) return data;
    if (data.consumers.every((c) => c.has_current)) {
      await client.post(`${SYS}/revoke-previous/${path}`, {});
      return (await client.get<VaultBody<RotationJson>>(`${SYS}/rotation/${path}`)).data;
    }
    if (systemClock.now() >= deadline) {
      const waiting = data.consumers.filter((c) => !c.has_current).map((c) => c.spiffe_id);
      throw new ParleyError(
        'deadline-exceeded',
        `not every consumer read version ${data.current_version}: ${waiting.join(', ')}`,
      );
    }
    await sleep(500, io.signal ?? new AbortController().signal);
  }
}

/** `parley secret …`: the secret store through the admin socket (full access, audited). */
export const secretCommand = commandGroup(
  'secret',
  'the secret store: secret put|get|list|versions|rotate|destroy|delete|undelete|policy|rewrap',
  `Usage:
  parley secret put PATH KEY=VALUE... [--file F.json] [--cas N]
      Writes a new version (--file: the data as a JSON object; --cas: only if the current version
      is N, 0 meaning "only if the secret does not exist").
  parley secret get PATH [--version N] [--field KEY] [-o table|json|yaml]
  parley secret list [FOLDER] [-o table|json|yaml]
  parley secret versions PATH [-o table|json|yaml]
      The secret's metadata: settings and every version with its state.
  parley secret rotate PATH [KEY=VALUE...] [--generate KEY[:LENGTH]]... [--database NAME]
                       [--grace DURATION] [--wait [--timeout DURATION]] [-o table|json|yaml]
      Writes a new current version while the previous one stays readable for the grace period
      (default 5m), then is revoked. KEY=VALUE and --generate (random text, default 32 characters)
      replace those keys and keep the others; --database rotates a PostgreSQL login of a database
      configured on the server (alternating its two roles). Prints who has read which version;
      --wait waits until every consumer has read the new one, then revokes the previous early.
  parley secret destroy PATH (--versions N[,N...] | --all)
      Destroys versions permanently (--all: the secret, its metadata and every version).
  parley secret delete PATH [--versions N[,N...]]     soft delete (the latest version by default)
  parley secret undelete PATH --versions N[,N...]
  parley secret policy put NAME --file POLICY.yaml | get NAME | list | delete NAME
      SecretPolicy documents stored in the datastore (beside those of the mesh config repository);
      the file holds the spec: { rules: [{ principals, paths, capabilities, effect }] }.
  parley secret rewrap
      Re-wraps every data key under the active key-encryption key (after adding a new first key).
Every command takes --socket PATH (the server's admin socket). See docs/secrets.md.
Exit codes: 0 success, 1 failed operation, 2 usage error.
`,
  {
    put: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        {
          ...ADMIN_FLAGS,
          file: { type: 'string' },
          cas: { type: 'string' },
        },
        Infinity,
      );
      const path = pathArg(positionals, 'put');
      let data: unknown = pairs(positionals.slice(1));
      if (values.file !== undefined) {
        if (positionals.length > 1)
          throw new UsageError('give KEY=VALUE pairs or --file, not both');
        data = await readDocument(values.file);
      } else if (positionals.length < 2) {
        throw new UsageError('secret put needs KEY=VALUE pairs or --file');
      }
      const cas =
        values.cas === undefined
          ? undefined
          : flagValue('cas', values.cas, (t) => {
              if (!/^(0|[1-9][0-9]{0,9})$/.test(t)) throw new Error('must be a version number');
              return Number(t);
            });
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const r = await connect(values, io).post<VaultBody<VersionJson>>(`${KV}/data/${path}`, {
        data,
        ...(cas !== undefined && { options: { cas } }),
      });
      io.stdout(
        format === 'table'
          ? renderFields([
              ['path', path],
              ['version', String(r.data.version)],
              ['created', r.data.created_time],
            ])
          : renderData(format, r.data),
      );
      return 0;
    },
    get: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        {
          ...ADMIN_FLAGS,
          version: { type: 'string' },
          field: { type: 'string' },
        },
        1,
      );
      const path = pathArg(positionals, 'get');
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const version =
        values.version === undefined
          ? undefined
          : flagValue('version', values.version, (t) => versionsFlag(t)[0] as number);
      const r = await connect(values, io)
        .get<VaultBody<{ data: Record<string, unknown>; metadata: VersionJson }>>(
          `${KV}/data/${path}`,
          version === undefined ? {} : { version: String(version) },
        )
        .catch((err: unknown) => {
          throw notFound(err, `no readable version of secret ${path}`);
        });
      if (values.field !== undefined) {
        const v = r.data.data[values.field];
        if (v === undefined)
          throw new ParleyError('not-found', `secret ${path} has no field "${values.field}"`);
        io.stdout(`${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
        return 0;
      }
      io.stdout(
        format === 'table'
          ? renderFields([
              ['path', path],
              ['version', String(r.data.metadata.version)],
              ['created', r.data.metadata.created_time],
              ...Object.entries(r.data.data).map(
                ([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as const,
              ),
            ])
          : renderData(format, r.data),
      );
      return 0;
    },
    list: async (args, io) => {
      const { values, positionals } = parseAdminFlags(args, ADMIN_FLAGS, 1);
      const folder = positionals[0] ?? '';
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const keys = await connect(values, io)
        .get<VaultBody<{ keys: string[] }>>(`${KV}/metadata/${folder}`, { list: 'true' })
        .then((r) => r.data.keys)
        .catch((err: unknown) => {
          if (err instanceof ParleyError && err.code === 'not-found') return [];
          throw err;
        });
      io.stdout(
        format === 'table'
          ? keys.length === 0
            ? '(none)\n'
            : `${keys.join('\n')}\n`
          : renderData(format, keys),
      );
      return 0;
    },
    versions: async (args, io) => {
      const { values, positionals } = parseAdminFlags(args, ADMIN_FLAGS, 1);
      const path = pathArg(positionals, 'versions');
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const client = connect(values, io);
      const m = await client
        .get<VaultBody<MetadataJson>>(`${KV}/metadata/${path}`)
        .catch((err: unknown) => {
          throw notFound(err, `no secret ${path}`);
        });
      if (format !== 'table') {
        io.stdout(renderData(format, m.data));
        return 0;
      }
      io.stdout(
        renderFields([
          ['path', path],
          ['current version', String(m.data.current_version)],
          ['max versions', String(m.data.max_versions)],
          ['cas required', String(m.data.cas_required)],
          ['delete version after', m.data.delete_version_after],
        ]) +
          renderTable(
            ['VERSION', 'CREATED', 'STATE'],
            Object.entries(m.data.versions).map(([v, s]) => [
              v,
              s.created_time,
              s.destroyed
                ? 'destroyed'
                : s.deletion_time !== ''
                  ? `deleted ${s.deletion_time}`
                  : Number(v) === m.data.current_version
                    ? 'current'
                    : 'kept',
            ]),
          ),
      );
      return 0;
    },
    rotate: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        {
          ...ADMIN_FLAGS,
          generate: { type: 'string', multiple: true },
          database: { type: 'string' },
          grace: { type: 'string' },
          wait: { type: 'boolean' },
          timeout: { type: 'string' },
        },
        Infinity,
      );
      const path = pathArg(positionals, 'rotate');
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const data = pairs(positionals.slice(1));
      const generate = (values.generate ?? []).map((g) => {
        const [key = '', length] = g.split(':');
        if (key === '') throw new UsageError('--generate needs KEY[:LENGTH]');
        return {
          key,
          ...(length !== undefined && {
            length: flagValue('generate', length, (t) => Number.parseInt(t, 10)),
          }),
        };
      });
      const grace =
        values.grace === undefined ? undefined : flagValue('grace', values.grace, parseDuration);
      const timeoutMs =
        values.timeout === undefined
          ? (grace ?? 300_000)
          : flagValue('timeout', values.timeout, parseDuration);
      const client = connect(values, io);
      let status = (
        await client.post<VaultBody<RotationJson>>(`${SYS}/rotate/${path}`, {
          ...(Object.keys(data).length > 0 && { data }),
          ...(generate.length > 0 && { generate }),
          ...(values.database !== undefined && { database: values.database }),
          ...(values.grace !== undefined && { grace: values.grace }),
        })
      ).data;
      if (values.wait === true) status = await waitForConsumers(client, path, timeoutMs, io);
      io.stdout(format === 'table' ? rotationFields(status) : renderData(format, status));
      return 0;
    },
    destroy: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        {
          ...ADMIN_FLAGS,
          versions: { type: 'string' },
          all: { type: 'boolean' },
        },
        1,
      );
      const path = pathArg(positionals, 'destroy');
      const client = connect(values, io);
      if ((values.all === true) === (values.versions !== undefined)) {
        throw new UsageError('secret destroy needs --versions N[,N...] or --all');
      }
      if (values.all === true) await client.delete(`${KV}/metadata/${path}`);
      else
        await client.post(`${KV}/destroy/${path}`, {
          versions: versionsFlag(values.versions as string),
        });
      io.stdout(`destroyed ${values.all === true ? 'every version of ' : ''}${path}\n`);
      return 0;
    },
    delete: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        { ...ADMIN_FLAGS, versions: { type: 'string' } },
        1,
      );
      const path = pathArg(positionals, 'delete');
      const client = connect(values, io);
      if (values.versions === undefined) await client.delete(`${KV}/data/${path}`);
      else await client.post(`${KV}/delete/${path}`, { versions: versionsFlag(values.versions) });
      io.stdout(`deleted ${path}\n`);
      return 0;
    },
    undelete: async (args, io) => {
      const { values, positionals } = parseAdminFlags(
        args,
        { ...ADMIN_FLAGS, versions: { type: 'string' } },
        1,
      );
      const path = pathArg(positionals, 'undelete');
      if (values.versions === undefined) throw new UsageError('secret undelete needs --versions');
      await connect(values, io).post(`${KV}/undelete/${path}`, {
        versions: versionsFlag(values.versions),
      });
      io.stdout(`undeleted ${path}\n`);
      return 0;
    },
    policy: async (args, io) => {
      const [verb, ...rest] = args;
      const { values, positionals } = parseAdminFlags(
        rest,
        { ...ADMIN_FLAGS, file: { type: 'string' } },
        1,
      );
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const client = connect(values, io);
      const name = positionals[0];
      const needName = () => {
        if (name === undefined || positionals.length > 1)
          throw new UsageError(`secret policy ${verb} needs one NAME`);
        return name;
      };
      switch (verb) {
        case 'put': {
          const n = needName();
          if (values.file === undefined) throw new UsageError('secret policy put needs --file');
          await client.put(`${SYS}/secret-policies/${n}`, await readDocument(values.file));
          io.stdout(`stored secret policy ${n}\n`);
          return 0;
        }
        case 'get': {
          const n = needName();
          const r = await client
            .get<VaultBody<unknown>>(`${SYS}/secret-policies/${n}`)
            .catch((err: unknown) => {
              throw notFound(err, `no stored secret policy ${n}`);
            });
          io.stdout(renderData(format === 'json' ? 'json' : 'yaml', r.data));
          return 0;
        }
        case 'list': {
          const r = await client.get<VaultBody<{ keys: string[] }>>(`${SYS}/secret-policies`, {
            list: 'true',
          });
          io.stdout(
            format === 'table'
              ? r.data.keys.length === 0
                ? '(none)\n'
                : `${r.data.keys.join('\n')}\n`
              : renderData(format, r.data.keys),
          );
          return 0;
        }
        case 'delete': {
          const n = needName();
          await client.delete(`${SYS}/secret-policies/${n}`).catch((err: unknown) => {
            throw notFound(err, `no stored secret policy ${n}`);
          });
          io.stdout(`deleted secret policy ${n}\n`);
          return 0;
        }
        default:
          throw new UsageError('secret policy needs put|get|list|delete');
      }
    },
    rewrap: async (args, io) => {
      const { values } = parseAdminFlags(args, ADMIN_FLAGS);
      const r = await connect(values, io).post<VaultBody<{ rewrapped: number }>>(
        `${SYS}/rewrap`,
        {},
      );
      io.stdout(`re-wrapped ${r.data.rewrapped} data keys\n`);
      return 0;
    },
  },
);

/** A not-found error with a message naming what was missing (Vault's 404 body names nothing). */
function notFound(err: unknown, message: string): unknown {
  return err instanceof ParleyError && err.code === 'not-found'
    ? new ParleyError('not-found', message)
    : err;
}
