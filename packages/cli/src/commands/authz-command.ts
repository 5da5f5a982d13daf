import { parseMeshConfig, formatMeshProblem } from '@parley/mesh';
import { parseSpiffeId, systemClock } from '@parley/core';
import type { Decision } from '@parley/authz';
import { UsageError } from '../command.js';
import { AUTHZ_DIFF_USAGE, authzDiff } from './authz-diff.js';
import { AUTHZ_LOG_USAGE, authzLog } from './authz-log.js';
import {
  type AuthzCheckInput,
  type CheckOutput,
  type TokenSummary,
  checkWithToken,
  fetchJwks,
  parseAuthzCheckInput,
} from '../server/authz-check.js';
import { ADMIN_FLAGS, connect, flagValue, parseAdminFlags, required } from './admin-flags.js';
import { type Subcommand, commandGroup } from './command-group.js';
import { readMeshDir } from './mesh-command.js';
import { outputFormat, renderData, renderFields } from './output.js';

const decider = (d: Decision['decidedBy']): string => {
  switch (d.kind) {
    case 'policy':
      return `${d.action} policy "${d.policy}" rule "${d.rule}"`;
    case 'default':
      return `mesh default (defaultAction ${d.defaultAction})`;
    case 'no-allow-match':
      return 'no ALLOW rule matched';
    case 'request':
      return 'the request (refused before any policy)';
  }
};

function renderToken(token: TokenSummary | undefined): [string, string][] {
  if (token === undefined) return [];
  if (!token.verified) return [['token', `not verified: ${token.note}`]];
  const subject = token.subject === undefined ? '' : `, subject ${JSON.stringify(token.subject)}`;
  return [['token', `verified: issuer ${JSON.stringify(token.issuer)}${subject}`]];
}

function renderResult(result: CheckOutput): string {
  const destination = `${result.destination.service} port ${result.destination.port}`;
  const d = result.decision;
  if ('status' in d) {
    return renderFields([
      ['decision', d.outcome],
      [
        'decided by',
        `the end-user token (Envoy's JWT filter answers ${d.status}, before any policy)`,
      ],
      ['why', `${d.status} — ${d.why}`],
      ['destination', destination],
    ]);
  }
  const fields: [string, string][] = [
    ['decision', d.outcome],
    ['decided by', decider(d.decidedBy)],
    ['why', d.why],
    ['destination', destination],
    ...renderToken(result.token),
  ];
  if (d.normalized !== undefined)
    fields.push(['normalized', `host ${d.normalized.host} path ${d.normalized.path}`]);
  if (d.dryRun !== undefined) {
    const matched = d.dryRun.matches.map((m) => `${m.policy}/${m.rule}`).join(', ');
    fields.push(['dry run', d.dryRun.why]);
    if (matched !== '') fields.push(['dry-run rules', matched]);
  }
  if (d.audit.length > 0)
    fields.push(['audit', d.audit.map((m) => `${m.policy}/${m.rule}`).join(', ')]);
  let text = renderFields(fields);
  if (d.closest.length > 0) {
    text += 'closest rules:\n';
    text += d.closest
      .map((n) => `  ${n.policy}/${n.rule}: failed ${n.failed.join('; ')}\n`)
      .join('');
  }
  return text;
}

/** The request the flags describe; every malformed flag is a usage error. */
function requestFromFlags(values: {
  source?: string | undefined;
  host?: string | undefined;
  method?: string | undefined;
  path?: string | undefined;
  header?: string[] | undefined;
  jwt?: string | undefined;
  'jwt-claims'?: string | undefined;
  'source-ip'?: string | undefined;
}): AuthzCheckInput {
  const source = required(values.source, 'source', 'authz check');
  if (values.jwt !== undefined && values['jwt-claims'] !== undefined) {
    throw new UsageError('--jwt and --jwt-claims exclude each other (a token brings its claims)');
  }
  // The token itself is never echoed, not even in a usage error.
  if (values.jwt === '') throw new UsageError('--jwt needs a token');
  flagValue('source', source, parseSpiffeId);
  const headers: Record<string, string[]> = {};
  for (const h of values.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header "${h.slice(0, 80)}": use NAME=VALUE`);
    (headers[h.slice(0, eq).toLowerCase()] ??= []).push(h.slice(eq + 1));
  }
  const claimsText = values['jwt-claims'];
  const claims =
    claimsText === undefined
      ? undefined
      : flagValue('jwt-claims', claimsText, (t): unknown => JSON.parse(t));
  try {
    return parseAuthzCheckInput({
      source,
      host: required(values.host, 'host', 'authz check'),
      method: required(values.method, 'method', 'authz check'),
      path: required(values.path, 'path', 'authz check'),
      headers: Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
      ),
      ...(claims !== undefined && { jwtClaims: claims }),
      ...(values['source-ip'] !== undefined && { sourceIp: values['source-ip'] }),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `parley authz check`: a hypothetical request, decided offline (`--dir`) or by the server. */
export const AUTHZ_SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  log: authzLog,
  diff: authzDiff,
  check: async (args, io) => {
    const { values } = parseAdminFlags(args, {
      ...ADMIN_FLAGS,
      source: { type: 'string' },
      host: { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string' },
      header: { type: 'string', multiple: true },
      jwt: { type: 'string' },
      'jwt-claims': { type: 'string' },
      'source-ip': { type: 'string' },
      dir: { type: 'string' },
    });
    const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
    const input = requestFromFlags(values);
    const token = values.jwt;
    let result: CheckOutput;
    if (values.dir !== undefined) {
      const parsed = parseMeshConfig(await readMeshDir(values.dir));
      if (!parsed.ok) {
        io.stdout(parsed.problems.map((p) => `${formatMeshProblem(p)}\n`).join(''));
        io.stderr(`parley: ${values.dir}: ${parsed.problems.length} problem(s)\n`);
        return 1;
      }
      result = await checkWithToken(
        parsed.config,
        { ...input, ...(token !== undefined && { jwt: token }) },
        { clock: systemClock, fetchJwks },
      );
    } else {
      // The server verifies the token against the issuers of the commit it serves.
      result = await connect(values, io).post<CheckOutput>('/v1/authz/check', {
        ...input,
        ...(token !== undefined && { jwt: token }),
      });
    }
    io.stdout(format === 'table' ? renderResult(result) : renderData(format, result));
    return 0;
  },
};

/** `parley authz check|log|diff`: decisions of the authorization policies, and why. */
export const authzCommand = commandGroup(
  'authz',
  'authorization: authz check (decide a request and say why), log (recent decisions), diff',
  `Usage:
  parley authz check --source SPIFFE_ID --host H --method M --path P [--header K=V]...
                     [--jwt TOKEN | --jwt-claims JSON] [--source-ip IP] [--dir MESH_DIR]
                     [--socket PATH] [-o table|json|yaml]
      Decides a hypothetical request from SPIFFE_ID to the Service named by host H (H:PORT picks
      the destination port; default: the Service's first port) and prints the decision (allow or
      deny), the policy and rule that decided it and why, the dry-run and AUDIT outcomes, and for
      a deny the ALLOW rules that came closest. --jwt verifies an end-user token against the
      mesh's JWT issuers as Envoy would: one that does not verify is answered 401 (403 for a
      wrong audience) before any policy; a verified one's claims go to the decision.
      --jwt-claims gives the claims of a verified token as a JSON object instead. With --dir the
      policies of that config directory decide (offline; a jwksUri issuer's JWKS is fetched);
      without, the running server's (the commit it serves).
${AUTHZ_LOG_USAGE}${AUTHZ_DIFF_USAGE}Exit codes: 0 a decision was made (allow or deny), 1 failed, 2 usage error.
`,
  AUTHZ_SUBCOMMANDS,
);
