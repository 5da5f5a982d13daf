import type { AuditChainVerdict } from '@parley/store';
import { ADMIN_FLAGS, connect, parseAdminFlags } from './admin-flags.js';
import { commandGroup } from './command-group.js';
import { outputFormat, renderData, renderFields } from './output.js';

/** `parley audit verify`: whether the server's audit chain is intact. */
export const auditCommand = commandGroup(
  'audit',
  'the audit chain: audit verify',
  `Usage:
  parley audit verify [--socket PATH] [-o table|json|yaml]
      Checks the server's audit chain (DESIGN §6: every SVID minted, every authorization decision
      recorded, …): sequence numbers without gaps, each event naming the previous one's hash, each
      hash matching its event. Prints the number of events, or the first bad one and why.
Exit codes: 0 the chain is intact, 1 it is not (or the check failed), 2 usage error.
`,
  {
    verify: async (args, io) => {
      const { values } = parseAdminFlags(args, ADMIN_FLAGS);
      const format = outputFormat(values.output, ['table', 'json', 'yaml'] as const, 'table');
      const verdict = await connect(values, io).get<AuditChainVerdict>('/v1/audit/verify', {});
      io.stdout(
        format !== 'table'
          ? renderData(format, verdict)
          : verdict.ok
            ? renderFields([
                ['audit chain', 'intact'],
                ['events', String(verdict.count)],
              ])
            : renderFields([
                ['audit chain', 'BROKEN'],
                ['first bad event', String(verdict.seq)],
                ['why', verdict.reason],
              ]),
      );
      return verdict.ok ? 0 : 1;
    },
  },
);
