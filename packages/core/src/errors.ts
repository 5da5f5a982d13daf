/**
 * The closed vocabulary of failures Parley reports. Each transport maps every code once
 * (gRPC status, HTTP status, CLI exit code); messages say what failed and why, never a secret.
 */
export type ErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'permission-denied'
  | 'unauthenticated'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'unimplemented'
  | 'internal';

/** Every code, for total code→status tables. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'invalid-argument',
  'not-found',
  'already-exists',
  'permission-denied',
  'unauthenticated',
  'failed-precondition',
  'resource-exhausted',
  'unavailable',
  'deadline-exceeded',
  'unimplemented',
  'internal',
];

/** The one error class of Parley: a code from the vocabulary and a message safe to show. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Shorthand for the most common failure: input that does not parse or validate. */
export function invalidArgument(message: string, options?: { cause?: unknown }): ParleyError {
  return new ParleyError('invalid-argument', message, options);
}

/** True when `err` is a ParleyError (optionally with the given code). */
export function isParleyError(err: unknown, code?: ErrorCode): err is ParleyError {
  return err instanceof ParleyError && (code === undefined || err.code === code);
}
