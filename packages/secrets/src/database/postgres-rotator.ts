import { randomBytes } from 'node:crypto';
import { ParleyError } from '@parley/core';
import pg from 'pg';
import { scramSha256Verifier } from './scram-verifier.js';

/** A PostgreSQL server whose login roles Parley rotates, and the administrator login it uses. */
export interface PostgresTarget {
  readonly name: string;
  /** The two login roles alternated (members of the role that holds the grants). */
  readonly roles: readonly [string, string];
  readonly connection: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password?: string;
  };
}

/** Rotates a PostgreSQL login between two roles. */
export interface PostgresRotator {
  readonly roles: readonly [string, string];
  /** Sets a fresh password on the role not in use and returns the new login. */
  next(
    binding: { readonly roles: readonly [string, string] },
    current: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Record<string, string | number>>;
  /** Makes a role's password unusable. */
  revoke(role: string): Promise<void>;
  close(): Promise<void>;
}

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

function checkRole(role: string): string {
  if (!ROLE.test(role))
    throw new ParleyError('invalid-argument', `invalid role name "${role.slice(0, 64)}"`);
  return `"${role}"`;
}

/**
 * A rotator for one PostgreSQL server (docs/secrets.md): `next` picks the role that the current
 * login does not use (the first when there is none), gives it a fresh random password — sent as
 * a SCRAM-SHA-256 verifier, never in clear — and returns `{ username, password, host, port,
 * database }`; `revoke` sets a role's password to NULL. The role keeps LOGIN, so the next rotation
 * only sets a password; sessions already open are not cut (clients re-read within the grace).
 */
export function createPostgresRotator(target: PostgresTarget): PostgresRotator {
  for (const r of target.roles) checkRole(r);
  const pool = new pg.Pool({ ...target.connection, max: 2 });
  pool.on('error', () => undefined);
  const alter = async (role: string, clause: string, what: string) => {
    try {
      await pool.query(`ALTER ROLE ${checkRole(role)} WITH LOGIN ${clause}`);
    } catch (err) {
      throw new ParleyError(
        'unavailable',
        `database "${target.name}": could not ${what} role ${role}: ${(err as { code?: string }).code ?? 'error'}`,
      );
    }
  };
  return {
    roles: target.roles,
    async next(binding, current) {
      const [a, b] = binding.roles;
      const role = current?.['username'] === a ? b : a;
      const password = randomBytes(32).toString('base64url');
      const verifier = scramSha256Verifier(password);
      if (!VERIFIER.test(verifier)) throw new Error('unexpected verifier shape');
      await alter(role, `PASSWORD '${verifier}'`, 'set the password of');
      return {
        username: role,
        password,
        host: target.connection.host,
        port: target.connection.port,
        database: target.connection.database,
      };
    },
    revoke: (role) => alter(role, 'PASSWORD NULL', 'revoke the password of'),
    close: () => pool.end(),
  };
}
