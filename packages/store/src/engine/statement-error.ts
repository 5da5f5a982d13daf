import { ParleyError } from '@parley/core';
import type { ErrorCode } from '@parley/core';

const EXCERPT_LENGTH = 80;

/**
 * The error for a failed statement: what failed (the engine and the start of the SQL, which holds
 * no values since those are bound parameters) and the engine's reason, with the driver error as
 * `cause`.
 */
export function statementError(
  code: ErrorCode,
  engine: string,
  sql: string,
  reason: string,
  cause: unknown,
): ParleyError {
  const flat = sql.replace(/\s+/g, ' ').trim();
  const excerpt = flat.length > EXCERPT_LENGTH ? flat.slice(0, EXCERPT_LENGTH) + '…' : flat;
  return new ParleyError(code, `${engine} statement failed: ${reason} (in: ${excerpt})`, { cause });
}
