import { randomBytes } from 'node:crypto';
import { ParleyError, invalidArgument } from '@parley/core';
import pg from 'pg';
import { scramSha256Verifier } from './scram-verifier.js';

/** A PostgreSQL server whose login roles Parley rotates, and the administrator login it uses. */
export interface PostgresTarget {
  readonly name: string;
  /** The two login roles alternated (both members of the group role that holds the grants). */
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
  /** Makes a role's password unusable (`PASSWORD NULL`). */
  revoke(role: string): Promise<void>;
  /** Closes the administrator connections. */
  close(): Promise<void>;
}

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
// Base64 and the verifier's `$`/`:` separators only: nothing that could end a SQL literal.
const VERIFIER = /^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/** The role as a double-quoted identifier, once its name is known to be plain. */
function quoteRole(target: string, role: string): string {
  if (!ROLE.test(role)) {
    throw invalidArgument(
      `database "${target}": invalid role name ${JSON.stringify(role.slice(0, 64))}: use [a-z_][a-z0-9_]*`,
    );
  }
  return `"${role}"`;
}

/**
 * A rotator for one PostgreSQL server: `next` picks the role that the current login does not use
 * (the first when there is none), gives it a fresh random password — sent as a SCRAM-SHA-256
 * verifier, never in clear — and returns `{ username, password, host, port, database }`.
 */
export function createPostgresRotator(target: PostgresTarget): PostgresRotator {
  for (const role of target.roles) quoteRole(target.name, role);
  const pool = new pg.Pool({ ...target.connection, max: 2 });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);

  const alter = async (role: string, clause: string, what: string): Promise<void> => {
    const sql = `ALTER ROLE ${quoteRole(target.name, role)} ${clause}`;
    try {
      await pool.query(sql);
    } catch (error) {
      // PostgreSQL's message never holds the password (it never sees it); pg's may hold the SQL.
      const e = error as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? ` (SQLSTATE ${e.code})` : '';
      const why =
        typeof e.code === 'string' && typeof e.message === 'string' ? `: ${e.message}` : '';
      throw new ParleyError(
        'unavailable',
        `database "${target.name}": cannot ${what} role "${role}"${code}${why}`,
      );
    }
  };

  return {
    roles: target.roles,
    async next(binding, current) {
      const [first, second] = binding.roles;
      const role = current?.['username'] === first ? second : first;
      const password = randomBytes(32).toString('base64url');
      const verifier = scramSha256Verifier(password);
      if (!VERIFIER.test(verifier)) {
        throw new ParleyError('internal', 'the SCRAM verifier has an unexpected shape');
      }
      // A verifier is stored as is (the server recognises the format), so neither the statement
      // log (log_statement) nor an error text can ever show the password.
      await alter(role, `PASSWORD '${verifier}'`, 'set the password of');
      return {
        username: role,
        password,
        host: target.connection.host,
        port: target.connection.port,
        database: target.connection.database,
      };
    },
    // The role keeps LOGIN: the next rotation onto it only sets a password. Sessions already open
    // are not terminated: a client re-reads the secret within the grace and reconnects with it.
    revoke: (role) => alter(role, 'PASSWORD NULL', 'revoke the password of'),
    close: () => pool.end(),
  };
}
