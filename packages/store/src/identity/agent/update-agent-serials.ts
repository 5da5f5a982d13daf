import { ParleyError } from '@parley/core';
import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkSpiffeId } from '../stored-value.js';
import type { AgentRow, AttestedAgent } from './attested-agent.js';
import {
  AGENT_COLUMNS,
  agentFromRow,
  agentNotFound,
  checkSerial,
  checkTimes,
} from './attested-agent.js';

/** The SVIDs an agent holds: the current one and, during a renewal, the new one. */
export interface AgentSerials {
  readonly certSerialNumber: string;
  readonly certNotAfter: number;
  readonly newCertSerialNumber?: string;
  readonly newCertNotAfter?: number;
}

/** When and on what condition the serials change. */
export interface UpdateAgentSerialsOptions {
  readonly now: number;
  /** Apply only if the agent's current serial number is still this one (renewals racing). */
  readonly expectedCertSerialNumber?: string;
}

/**
 * Sets the serial numbers of agent `spiffeId`'s SVIDs (absent new ones are cleared) in one
 * atomic statement. Fails with `not-found`, or `failed-precondition` when
 * `expectedCertSerialNumber` no longer matches.
 */
export async function updateAgentSerials(
  db: Queryable,
  spiffeId: SpiffeId,
  serials: AgentSerials,
  options: UpdateAgentSerialsOptions,
): Promise<AttestedAgent> {
  checkSpiffeId('agent spiffeId', spiffeId);
  checkSerial('certSerialNumber', serials.certSerialNumber);
  checkTimes(['now', options.now], ['certNotAfter', serials.certNotAfter]);
  const hasNew = serials.newCertSerialNumber !== undefined;
  if (hasNew !== (serials.newCertNotAfter !== undefined)) {
    throw new TypeError('newCertSerialNumber and newCertNotAfter go together');
  }
  if (serials.newCertSerialNumber !== undefined) {
    checkSerial('newCertSerialNumber', serials.newCertSerialNumber);
  }
  if (serials.newCertNotAfter !== undefined)
    checkTimes(['newCertNotAfter', serials.newCertNotAfter]);
  const expected = options.expectedCertSerialNumber;
  if (expected !== undefined) checkSerial('expectedCertSerialNumber', expected);
  const id = spiffeId.toString();
  const [row] = await db.query<AgentRow>(
    `UPDATE attested_agents SET cert_serial_number = $1, cert_not_after = $2,
       new_cert_serial_number = $3, new_cert_not_after = $4, updated_at = $5
     WHERE spiffe_id = $6 ${expected === undefined ? '' : 'AND cert_serial_number = $7'}
     RETURNING ${AGENT_COLUMNS}`,
    [
      serials.certSerialNumber,
      serials.certNotAfter,
      serials.newCertSerialNumber ?? null,
      serials.newCertNotAfter ?? null,
      options.now,
      id,
      ...(expected === undefined ? [] : [expected]),
    ],
  );
  if (row !== undefined) return agentFromRow(row);
  const [current] = await db.query<{ cert_serial_number: string }>(
    'SELECT cert_serial_number FROM attested_agents WHERE spiffe_id = $1',
    [id],
  );
  if (current === undefined) throw agentNotFound(spiffeId);
  throw new ParleyError(
    'failed-precondition',
    `agent ${id} now holds SVID serial ${current.cert_serial_number}, not the expected ${String(expected)}`,
  );
}
