import { ParleyError } from '@parley/core';
import type { SpiffeId } from '@parley/core';
import type { Transaction } from '../../database.js';
import type { Selector } from '../selector.js';
import { canonicalSelectors, selectorsJson } from '../selector.js';
import { checkSpiffeId, checkText, checkTransaction } from '../stored-value.js';
import type { AttestedAgent } from './attested-agent.js';
import { checkSerial, checkTimes, insertNodeSelectors } from './attested-agent.js';

/** An agent that has just attested. */
export interface NewAttestedAgent {
  readonly spiffeId: SpiffeId;
  readonly attestationType: string;
  readonly selectors: readonly Selector[];
  readonly certSerialNumber: string;
  readonly certNotAfter: number;
}

/**
 * Records an attested agent and its node selectors in `tx` at `now`. Fails with
 * `already-exists` when the SPIFFE ID is attested already (re-attestation deletes it first, or
 * updates its selectors with `setAgentSelectors`).
 */
export async function createAgent(
  tx: Transaction,
  agent: NewAttestedAgent,
  now: number,
): Promise<AttestedAgent> {
  checkTransaction('createAgent', tx);
  checkSpiffeId('agent spiffeId', agent.spiffeId);
  checkText('agent attestationType', agent.attestationType);
  if (agent.attestationType === '') throw new TypeError('agent attestationType must not be empty');
  checkSerial('agent certSerialNumber', agent.certSerialNumber);
  checkTimes(['now', now], ['agent certNotAfter', agent.certNotAfter]);
  const selectors = canonicalSelectors(agent.selectors, 'agent');
  const id = agent.spiffeId.toString();
  const inserted = await tx.execute(
    `INSERT INTO attested_agents (spiffe_id, attestation_type, selectors, cert_serial_number,
       cert_not_after, new_cert_serial_number, new_cert_not_after, banned, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, NULL, NULL, 0, $6, $6)
     ON CONFLICT DO NOTHING`,
    [
      id,
      agent.attestationType,
      selectorsJson(selectors),
      agent.certSerialNumber,
      agent.certNotAfter,
      now,
    ],
  );
  if (inserted === 0) {
    throw new ParleyError('already-exists', `agent ${id} is already attested`);
  }
  await insertNodeSelectors(tx, id, selectors);
  return {
    spiffeId: agent.spiffeId,
    attestationType: agent.attestationType,
    selectors,
    certSerialNumber: agent.certSerialNumber,
    certNotAfter: agent.certNotAfter,
    banned: false,
    createdAt: now,
    updatedAt: now,
  };
}
