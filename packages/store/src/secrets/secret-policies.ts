import type { Queryable, Transaction } from '../database.js';

/** A SecretPolicy stored through the admin API: its name and its spec as JSON text. */
export interface StoredSecretPolicy {
  readonly name: string;
  readonly document: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

function policyOf(r: Record<string, unknown>): StoredSecretPolicy {
  return {
    name: r['name'] as string,
    document: r['document'] as string,
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
  };
}

/** Creates or replaces a stored policy. */
export async function putSecretPolicy(
  tx: Transaction,
  p: { name: string; document: string; now: number },
): Promise<void> {
  await tx.execute(
    `INSERT INTO secret_policies (name, document, created_at, updated_at) VALUES ($1, $2, $3, $3)
     ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
    [p.name, p.document, p.now],
  );
}

/** A stored policy, or undefined. */
export async function getSecretPolicy(
  db: Queryable,
  name: string,
): Promise<StoredSecretPolicy | undefined> {
  const [r] = await db.query(
    'SELECT name, document, created_at, updated_at FROM secret_policies WHERE name = $1',
    [name],
  );
  return r === undefined ? undefined : policyOf(r);
}

/** Every stored policy, by name. */
export async function listSecretPolicies(db: Queryable): Promise<StoredSecretPolicy[]> {
  const rows = await db.query(
    'SELECT name, document, created_at, updated_at FROM secret_policies ORDER BY name',
  );
  return rows.map(policyOf);
}

/** Deletes a stored policy; false when there was none. */
export async function deleteSecretPolicy(tx: Transaction, name: string): Promise<boolean> {
  return (await tx.execute('DELETE FROM secret_policies WHERE name = $1', [name])) > 0;
}
