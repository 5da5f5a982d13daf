import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type Bundle,
  type Certificate,
  type Clock,
  type Duration,
  ParleyError,
  bundleSet,
  encodePem,
  formatDuration,
  parseDuration,
  parseSpiffeId,
  systemClock,
  verifyJwtSvid,
} from '@parley/core';
import { type CliIo, UsageError } from '../command.js';
import {
  type WorkloadClient,
  type X509Context,
  oneLine,
  parseWorkloadSocketAddress,
  resolveWorkloadSocket,
  workloadClient,
} from '../workload-client.js';
import { flagValue, parseAdminFlags, required } from './admin-flags.js';
import { commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields, renderTable } from './output.js';

const USAGE = `Usage:
  parley api fetch x509 [--write DIR]        this workload's X509-SVIDs and trust bundles
  parley api fetch jwt --audience A [--audience B]… [--spiffe-id ID]
                                             JWT-SVIDs for the audience (and the JWT bundles)
  parley api validate jwt --audience A --token T|-
                                             has the agent validate a JWT-SVID (- reads stdin)
  parley api watch [--count N] [--timeout D] one line per X509-SVID update

The SPIFFE Workload API as this process sees it: the agent attests the caller, so each command
gets the identities registered for it. Every SVID and JWT-SVID received is verified against the
bundle received with it, and refused (exit 1) when it does not verify. Private keys are never
printed.

  --write DIR      also write, for each SVID i (0 is the default identity): svid.i.pem (chain),
                   svid.i.key (PKCS#8 private key, mode 0600), bundle.i.pem and, for each
                   federated trust domain j in name order, federated_bundle.i.j.pem (the names
                   of spire-agent api fetch x509 -write). DIR must exist.
  --audience A     an audience of the JWT-SVID (fetch: repeatable; validate: exactly one)
  --spiffe-id ID   fetch only the JWT-SVID of this identity (default: one per identity)
  --token T        the JWT-SVID to validate; - reads it from standard input
  --count N        watch: exit 0 after N updates (default: until interrupted)
  --timeout D      fetch, validate: how long to wait for the agent (default 5s); watch: stop
                   after D (exit 1 if --count updates did not all arrive by then)
  -o FORMAT        table (default) | json | yaml; watch: table | json (one object per line).
                   fetch jwt prints the tokens alone, one a line; json adds expiry and bundles.

Every command: --socket unix:///PATH  the agent's Workload API socket (a plain path is accepted;
               default: $SPIFFE_ENDPOINT_SOCKET, else ./.parley/agent.sock)
Durations: 90 (seconds), 90s, 15m, 500ms. Exit codes: 0 success, 1 failed (the gRPC status is
named, e.g. "PermissionDenied: no identity issued"), 2 usage error.
`;

/** The flags every `parley api` command takes. */
const API_FLAGS = {
  socket: { type: 'string' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
} as const;

/** The clock SVIDs are verified at. */
const clock: Clock = systemClock;

/** A JWT-SVID is at most 16 KiB (core's limit); more than this on stdin is refused unread. */
const MAX_STDIN_BYTES = 64 * 1024;

function durationFlag(flag: string, text: string): Duration {
  return flagValue(flag, text, (t) => {
    const d = parseDuration(t);
    if (d === 0) throw new Error('must be more than 0s');
    return d;
  });
}

/** The Workload API client for `--socket` (or the environment's, or the local mesh's). */
function connect(
  values: { readonly socket?: string | undefined; readonly timeout?: string | undefined },
  io: CliIo,
): WorkloadClient {
  const socket =
    values.socket === undefined
      ? resolveWorkloadSocket(undefined, io.env)
      : flagValue('socket', values.socket, parseWorkloadSocketAddress);
  const timeout =
    values.timeout === undefined ? undefined : durationFlag('timeout', values.timeout);
  return workloadClient(socket, { clock, ...(timeout === undefined ? {} : { timeout }) });
}

/** Runs `body` with a client and closes it afterwards, whatever happens. */
async function withClient<T>(client: WorkloadClient, body: (c: WorkloadClient) => Promise<T>) {
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

const hex = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? '-' : Buffer.from(bytes).toString('hex');
const time = (ms: number) => new Date(ms).toISOString();
const pemOf = (certs: readonly Certificate[]) =>
  certs.map((c) => encodePem('CERTIFICATE', c.raw)).join('');

/** The bundles of an X509 context: the SVIDs' own trust domains, then the federated ones. */
function contextBundles(ctx: X509Context): { bundle: Bundle; federated: boolean }[] {
  const own = new Map<string, Bundle>();
  for (const svid of ctx.svids)
    if (!own.has(svid.bundle.trustDomain.name)) own.set(svid.bundle.trustDomain.name, svid.bundle);
  return [
    ...[...own.values()].map((bundle) => ({ bundle, federated: false })),
    ...ctx.federatedBundles.map((bundle) => ({ bundle, federated: true })),
  ];
}

/** An X509 context's public facts, for JSON and YAML output (never a private key). */
function x509Summary(ctx: X509Context) {
  return {
    svids: ctx.svids.map((svid) => {
      const leaf = svid.certificates[0] as Certificate;
      return {
        spiffeId: svid.spiffeId.toString(),
        hint: svid.hint,
        serial: hex(leaf.serialNumber),
        notBefore: time(leaf.notBefore),
        expiresAt: time(svid.expiresAt),
        intermediates: svid.certificates.length - 1,
      };
    }),
    bundles: contextBundles(ctx).map(({ bundle, federated }) => ({
      trustDomain: bundle.trustDomain.name,
      federated,
      x509Authorities: bundle.x509Authorities.map((c) => ({
        subjectKeyId: hex(c.subjectKeyId),
        notAfter: time(c.notAfter),
      })),
    })),
  };
}

function renderX509Table(ctx: X509Context): string {
  const svids = renderTable(
    ['SPIFFE ID', 'HINT', 'SERIAL', 'EXPIRES'],
    ctx.svids.map((svid) => [
      svid.spiffeId.toString(),
      oneLine(svid.hint) || '-',
      hex(svid.certificates[0]?.serialNumber),
      time(svid.expiresAt),
    ]),
  );
  const bundles = renderTable(
    ['TRUST DOMAIN', 'X509 AUTHORITIES', 'FEDERATED'],
    contextBundles(ctx).map(({ bundle, federated }) => [
      bundle.trustDomain.name,
      String(bundle.x509Authorities.length),
      federated ? 'yes' : 'no',
    ]),
  );
  return `${svids}\n${bundles}`;
}

/** Writes `data` to `path` through a fresh temporary file and a rename: never half a file. */
async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx' creates the file with `mode` (a key is never readable by others, even briefly).
    await writeFile(temp, data, { mode, flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Writes the files of `spire-agent api fetch x509 -write` to `dir`; returns their paths. */
async function writeX509Files(dir: string, ctx: X509Context): Promise<string[]> {
  const files: [string, string, number][] = [];
  ctx.svids.forEach((svid, i) => {
    const key = svid.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    files.push([`svid.${i}.pem`, pemOf(svid.certificates), 0o644]);
    files.push([`svid.${i}.key`, key, 0o600]);
    files.push([`bundle.${i}.pem`, pemOf(svid.bundle.x509Authorities), 0o644]);
    ctx.federatedBundles.forEach((b, j) =>
      files.push([`federated_bundle.${i}.${j}.pem`, pemOf(b.x509Authorities), 0o644]),
    );
  });
  const written: string[] = [];
  for (const [name, data, mode] of files) {
    const path = join(dir, name);
    try {
      await writeAtomically(path, data, mode);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ParleyError('unavailable', `cannot write ${path}: ${code}`);
    }
    written.push(path);
  }
  return written;
}

const fetchX509 = async (args: readonly string[], io: CliIo): Promise<number> => {
  const { values } = parseAdminFlags(args, { ...API_FLAGS, write: { type: 'string' } });
  const format = outputFormat(values.output, ['table', 'json', 'yaml'], 'table');
  if (values.write === '') throw new UsageError('--write needs a directory');
  const ctx = await withClient(connect(values, io), (c) => c.fetchX509Context(io.signal));
  const files = values.write === undefined ? [] : await writeX509Files(values.write, ctx);
  if (format === 'table') {
    io.stdout(renderX509Table(ctx) + files.map((f) => `wrote ${f}\n`).join(''));
  } else {
    io.stdout(renderData(format, { ...x509Summary(ctx), ...(files.length ? { files } : {}) }));
  }
  return 0;
};

const fetchJwt = async (args: readonly string[], io: CliIo): Promise<number> => {
  const { values } = parseAdminFlags(args, {
    ...API_FLAGS,
    audience: { type: 'string', multiple: true },
    'spiffe-id': { type: 'string' },
  });
  const format = outputFormat(values.output, ['table', 'json', 'yaml'], 'table');
  const audience = values.audience ?? [];
  if (audience.length === 0) throw new UsageError('api fetch jwt needs at least one --audience');
  if (audience.some((a) => a === '')) throw new UsageError('--audience must not be empty');
  const spiffeId =
    values['spiffe-id'] === undefined
      ? undefined
      : flagValue('spiffe-id', values['spiffe-id'], parseSpiffeId);
  const [svids, bundles] = await withClient(connect(values, io), (c) =>
    Promise.all([c.fetchJwtSvids(audience, spiffeId, io.signal), c.fetchJwtBundles(io.signal)]),
  );
  // Validate what is received: each token against the JWT bundles received with it.
  const verified = svids.map((svid) => {
    const result = verifyJwtSvid(svid.token, bundleSet(...bundles), audience, clock);
    const id = svid.spiffeId.toString();
    if (!result.ok) {
      throw new ParleyError(
        'failed-precondition',
        `the JWT-SVID for ${id} does not verify against the JWT bundles: ${oneLine(result.reason)}`,
      );
    }
    if (!result.svid.spiffeId.equals(svid.spiffeId))
      throw new ParleyError('internal', `the Workload API sent a JWT-SVID labelled as ${id}`);
    return { ...svid, svid: result.svid };
  });
  if (format === 'table') {
    io.stdout(verified.map((v) => `${v.token}\n`).join(''));
    return 0;
  }
  io.stdout(
    renderData(format, {
      svids: verified.map((v) => ({
        spiffeId: v.spiffeId.toString(),
        hint: v.hint,
        audience: v.svid.audience,
        expiresAt: time(v.svid.expiresAt),
        token: v.token,
      })),
      bundles: bundles.map((b) => ({
        trustDomain: b.trustDomain.name,
        keys: [...b.jwtAuthorities].map(([kid, key]) => ({
          kid,
          ...key.export({ format: 'jwk' }),
        })),
      })),
    }),
  );
  return 0;
};

/** All of standard input as text, refusing more than MAX_STDIN_BYTES. */
async function readStdin(io: CliIo): Promise<string> {
  const file = io.stdin === undefined ? createReadStream('/dev/stdin') : undefined;
  const source: AsyncIterable<string | Uint8Array> = io.stdin ?? (file as AsyncIterable<Buffer>);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      const bytes = Buffer.from(chunk);
      size += bytes.length;
      if (size > MAX_STDIN_BYTES)
        throw new ParleyError('invalid-argument', 'the token on standard input is too long');
      chunks.push(bytes);
    }
  } catch (err) {
    if (err instanceof ParleyError) throw err;
    throw new ParleyError('unavailable', 'cannot read the token from standard input');
  } finally {
    file?.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

const validateJwt = async (args: readonly string[], io: CliIo): Promise<number> => {
  const { values } = parseAdminFlags(args, {
    ...API_FLAGS,
    audience: { type: 'string' },
    token: { type: 'string' },
  });
  const format = outputFormat(values.output, ['table', 'json', 'yaml'], 'table');
  const audience = required(values.audience, 'audience', 'api validate jwt');
  if (audience === '') throw new UsageError('--audience must not be empty');
  const given = required(values.token, 'token', 'api validate jwt');
  const token = (given === '-' ? await readStdin(io) : given).trim();
  if (token === '') throw new UsageError('--token is empty');
  const result = await withClient(connect(values, io), (c) =>
    c.validateJwtSvid(audience, token, io.signal),
  );
  const spiffeId = result.spiffeId.toString();
  io.stdout(
    format === 'table'
      ? renderFields([
          ['SPIFFE ID', spiffeId],
          ['Claims', JSON.stringify(result.claims)],
        ])
      : renderData(format, { spiffeId, claims: result.claims }),
  );
  return 0;
};

function countFlag(text: string): number {
  return flagValue('count', text, (t) => {
    if (!/^[1-9]\d{0,8}$/.test(t)) throw new Error(`"${t.slice(0, 32)}" is not a positive integer`);
    return Number(t);
  });
}

const watch = async (args: readonly string[], io: CliIo): Promise<number> => {
  const { values } = parseAdminFlags(args, {
    socket: API_FLAGS.socket,
    output: API_FLAGS.output,
    count: { type: 'string' },
    timeout: { type: 'string' },
  });
  const format = outputFormat(values.output, ['table', 'json'], 'table');
  const count = values.count === undefined ? undefined : countFlag(values.count);
  const limit = values.timeout === undefined ? undefined : durationFlag('timeout', values.timeout);
  // The watch has no deadline of its own: `--timeout` is the length of the whole watch.
  const client = connect({ socket: values.socket }, io);
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  io.signal?.addEventListener('abort', interrupt, { once: true });
  if (io.signal?.aborted === true) stop.abort();
  let timedOut = false;
  const timer =
    limit === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop.abort();
        }, limit);
  let seen = 0;
  try {
    for await (const ctx of client.watchX509Contexts(stop.signal)) {
      seen++;
      if (format === 'json') {
        const { svids } = x509Summary(ctx);
        io.stdout(`${JSON.stringify({ update: seen, svids })}\n`);
      } else {
        for (const svid of ctx.svids) {
          const hint = svid.hint === '' ? '' : `  hint ${oneLine(svid.hint)}`;
          io.stdout(
            `${svid.spiffeId.toString()}  serial ${hex(svid.certificates[0]?.serialNumber)}  ` +
              `expires ${time(svid.expiresAt)}${hint}\n`,
          );
        }
      }
      if (count !== undefined && seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
    io.signal?.removeEventListener('abort', interrupt);
    client.close();
  }
  if (timedOut && count !== undefined && seen < count && limit !== undefined) {
    throw new ParleyError(
      'deadline-exceeded',
      `DeadlineExceeded: ${seen} of ${count} X509-SVID updates within ${formatDuration(limit)}`,
    );
  }
  return 0;
};

/**
 * `parley api fetch x509|jwt`, `api validate jwt`, `api watch`: the SPIFFE Workload API as the
 * calling workload sees it, on the agent's socket (DESIGN §4).
 */
export const apiCommand = commandGroup(
  'api',
  'the Workload API as this workload sees it: api fetch x509|jwt, validate jwt, watch',
  USAGE,
  {
    fetch: commandGroup('api fetch', 'fetch SVIDs', USAGE, { x509: fetchX509, jwt: fetchJwt }).run,
    validate: commandGroup('api validate', 'validate a JWT-SVID', USAGE, { jwt: validateJwt }).run,
    watch,
  },
);
