/** A source of the current time; every verifier and rotator takes one (STYLE rule 10). */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real clock: the only place Parley reads the system time. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock fixed at `ms` (or a Date), for verification at a given instant. */
export function fixedClock(at: number | Date): Clock {
  const ms = typeof at === 'number' ? at : at.getTime();
  return { now: () => ms };
}
