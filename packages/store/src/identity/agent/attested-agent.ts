import { ParleyError, invalidArgument } from '@parley/core';
import type { SpiffeId } from '@parley/core';
import type { Transaction } from '../../database.js';
import type { Selector } from '../selector.js';
import { storedSelectors } from '../selector.js';
import { MAX_BOUND_VALUES, SqlParams, chunks } from '../sql-params.js';
import { checkCount, storedFlag, storedSpiffeId } from '../stored-value.js';

/** An attested node: the agent's SPIFFE ID, how it attested, and the SVID it holds. */
export interface AttestedAgent {
  readonly spiffeId: SpiffeId;
  /** The node attestor that admitted it, e.g. `join_token` or `x509pop`. */
  readonly attestationType: string;
  /** The node selectors its attestation produced, in canonical order. */
  readonly selectors: readonly Selector[];
  /** Serial number of its current SVID, lowercase hex. */
  readonly certSerialNumber: string;
  readonly certNotAfter: number;
  /** During a renewal: the serial number of the SVID issued but not yet used by the agent. */
  readonly newCertSerialNumber?: string;
  readonly newCertNotAfter?: number;
  /** A banned agent is refused until it is deleted (evicted) and attests again. */
  readonly banned: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The columns of `attested_agents` a query selects to build an `AttestedAgent`. */
export const AGENT_COLUMNS =
  'spiffe_id, attestation_type, selectors, cert_serial_number, cert_not_after, ' +
  'new_cert_serial_number, new_cert_not_after, banned, created_at, updated_at';

/** The same columns qualified by the alias `a`. */
export const AGENT_COLUMNS_A = AGENT_COLUMNS.split(', ')
  .map((c) => `a.${c}`)
  .join(', ');

/** A row of `attested_agents` as selected by `AGENT_COLUMNS`. */
export interface AgentRow {
  readonly spiffe_id: string;
  readonly attestation_type: string;
  readonly selectors: string;
  readonly cert_serial_number: string;
  readonly cert_not_after: number;
  readonly new_cert_serial_number: string | null;
  readonly new_cert_not_after: number | null;
  readonly banned: number;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Parses a stored row into typed values. */
export function agentFromRow(row: AgentRow): AttestedAgent {
  const where = `attested agent ${row.spiffe_id}`;
  return {
    spiffeId: storedSpiffeId(row.spiffe_id, where),
    attestationType: row.attestation_type,
    selectors: storedSelectors(row.selectors, where),
    certSerialNumber: row.cert_serial_number,
    certNotAfter: row.cert_not_after,
    ...(row.new_cert_serial_number === null
      ? {}
      : { newCertSerialNumber: row.new_cert_serial_number }),
    ...(row.new_cert_not_after === null ? {} : { newCertNotAfter: row.new_cert_not_after }),
    banned: storedFlag(row.banned),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Fails unless `serial` is a certificate serial number as stored: lowercase hex digits. */
export function checkSerial(name: string, serial: string): void {
  if (typeof serial !== 'string' || !/^[0-9a-f]{1,128}$/.test(serial)) {
    throw invalidArgument(`${name} must be a serial number in lowercase hex`);
  }
}

/** Fails unless `now` and a certificate's not-after are valid times. */
export function checkTimes(...pairs: [string, number][]): void {
  for (const [name, value] of pairs) checkCount(name, value);
}

/** The error for an agent that is not attested. */
export function agentNotFound(spiffeId: SpiffeId): ParleyError {
  return new ParleyError('not-found', `agent ${spiffeId.toString()} is not attested`);
}

/** Stores the node selector rows of agent `spiffeId` (the caller has removed any old ones). */
export async function insertNodeSelectors(
  tx: Transaction,
  spiffeId: string,
  selectors: readonly Selector[],
): Promise<void> {
  for (const chunk of chunks(selectors, Math.floor(MAX_BOUND_VALUES / 3))) {
    const params = new SqlParams();
    const rows = chunk.map((s) => `(${params.list([spiffeId, s.type, s.value])})`).join(', ');
    await tx.execute(
      `INSERT INTO node_selectors (spiffe_id, type, value) VALUES ${rows}`,
      params.values,
    );
  }
}
