import { parseDuration } from '@parley/core';
import { UsageError } from '../command.js';
import {
  type LoggedDecision,
  MAX_DECISIONS_LIMIT,
  parseDecisionsDto,
} from '../server/authz-decision-routes.js';
import { ADMIN_FLAGS, connect, flagValue, parseAdminFlags } from './admin-flags.js';
import type { Subcommand } from './command-group.js';
import { outputFormat, renderData, renderTable } from './output.js';

/** The usage text of `parley authz log`, for the authz command's help. */
export const AUTHZ_LOG_USAGE = `  parley authz log [--denied] [--since DURATION] [--limit N] [--request-id ID]
                   [--socket PATH] [-o table|json|yaml]
      Shows recent authorization decisions from the decision log (the audit chain), newest
      first: every deny, every dry-run "would deny" and a sample of allows. --denied keeps the
      denials only; --since 5m those of the last five minutes; --limit at most N (default 100,
      at most ${MAX_DECISIONS_LIMIT}); --request-id the decision of one request (denied
      responses carry their request id).
`;

/** Characters a terminal would act on (escape sequences, newlines) are shown as `?`. */
// eslint-disable-next-line no-control-regex -- control characters are what is replaced
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One cell of a table: printable, and `-` when empty. */
export function cell(text: string | undefined): string {
  return text === undefined || text === '' ? '-' : text.replace(CONTROL, '?');
}

/** `policy/rule`, `policy`, or `-` when no rule decided. */
export function policyRule(d: { readonly policy?: string; readonly rule?: string }): string {
  if (d.policy === undefined) return '-';
  return cell(d.rule === undefined ? d.policy : `${d.policy}/${d.rule}`);
}

/** The columns of a decision that say who asked what of whom, shared with `authz diff`. */
export function requestCells(d: LoggedDecision): string[] {
  return [
    cell(d.source.principal ?? d.source.address),
    cell(`${d.destination.service ?? d.destination.principal}:${d.destination.port}`),
    cell(d.request.method),
    cell(d.request.path),
  ];
}

function outcomeOf(d: LoggedDecision): string {
  const dry = d.dryRun;
  return dry === undefined || dry.outcome === d.outcome
    ? d.outcome
    : `${d.outcome} (would ${dry.outcome})`;
}

/** The `--limit` value: 1 … MAX_DECISIONS_LIMIT. */
export function limitFlag(flag: string, text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_DECISIONS_LIMIT) {
    throw new UsageError(`--${flag} must be an integer from 1 to ${MAX_DECISIONS_LIMIT}`);
  }
  return Number(text);
}

/** `parley authz log`: recent decisions of the decision log, from the server's admin API. */
export const authzLog: Subcommand = async (args, io) => {
  const { values } = parseAdminFlags(args, {
    ...ADMIN_FLAGS,
    denied: { type: 'boolean' },
    since: { type: 'string' },
    limit: { type: 'string' },
    'request-id': { type: 'string' },
  });
  const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
  // Checked here too, so a bad flag is a usage error (exit 2), not the server's refusal.
  if (values.since !== undefined) flagValue('since', values.since, parseDuration);
  const limit = values.limit === undefined ? undefined : limitFlag('limit', values.limit);
  const requestId = values['request-id'];
  if (requestId === '') throw new UsageError('--request-id must not be empty');
  const body = await connect(values, io).get<unknown>('/v1/authz/decisions', {
    denied: values.denied === true ? 'true' : undefined,
    since: values.since,
    limit: limit === undefined ? undefined : String(limit),
    requestId,
  });
  const decisions = parseDecisionsDto(body);
  io.stdout(
    format === 'table'
      ? renderTable(
          [
            'TIME',
            'REQUEST ID',
            'OUTCOME',
            'SOURCE',
            'DESTINATION',
            'METHOD',
            'PATH',
            'POLICY/RULE',
            'WHY',
          ],
          decisions.map((d) => [
            new Date(d.at).toISOString(),
            cell(d.requestId),
            outcomeOf(d),
            ...requestCells(d),
            policyRule(d),
            cell(d.why),
          ]),
        )
      : renderData(format, { decisions }),
  );
  return 0;
};
