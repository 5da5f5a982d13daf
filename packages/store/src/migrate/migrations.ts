import type { Dialect } from './dialect.js';

/** One schema change: applied once, in its own transaction, in id order. Never edit a shipped one. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  /** The statements to run, written once with the engine's types from `d`. */
  up(d: Dialect): readonly string[];
}

/** Every migration this build knows, in order; ids are 1, 2, 3, … */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'audit-chain',
    // DESIGN §6: each row carries the hash of the previous one; see audit/audit-event.ts.
    up: (d) => [
      `CREATE TABLE audit_events (
        seq ${d.bigint} PRIMARY KEY,
        at ${d.bigint} NOT NULL,
        module ${d.text} NOT NULL,
        action ${d.text} NOT NULL,
        subject ${d.text} NOT NULL,
        detail ${d.text} NOT NULL,
        prev_hash ${d.text} NOT NULL,
        hash ${d.text} NOT NULL
      )${d.tableOptions}`,
      ...d.appendOnly('audit_events'),
    ],
  },
  {
    id: 2,
    name: 'leases',
    up: (d) => [
      `CREATE TABLE leases (
        name ${d.text} PRIMARY KEY,
        holder ${d.text} NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
    ],
  },
];

/** The schema version of this build: the id of its last migration. */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.id ?? 0;
