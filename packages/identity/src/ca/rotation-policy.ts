import { type Duration, durationMs } from '@parley/core';
import type { AuthorityRecordBase } from './authority-record.js';

const DAY_MS = 86_400_000;
/** The next authority is prepared at most this long before the current one expires. */
export const PREPARE_CAP_MS = 30 * DAY_MS;
/** The next authority is activated at most this long before the current one expires. */
export const ACTIVATE_CAP_MS = 7 * DAY_MS;

/** When an authority's successor is prepared and when it takes over (SPIRE's thresholds). */
export interface RotationSchedule {
  readonly prepareAt: number;
  readonly activateAt: number;
}

/**
 * The schedule of an authority living from `issuedAt` to `notAfter`: prepare its successor
 * min(lifetime/2, 30 days) before it expires, activate it min(lifetime/6, 7 days) before. The
 * lifetime is the authority's own, not the configured TTL: an upstream may grant less.
 */
export function rotationSchedule(authority: {
  readonly issuedAt: number;
  readonly notAfter: number;
}): RotationSchedule {
  const lifetime = Math.max(0, authority.notAfter - authority.issuedAt);
  return {
    prepareAt: authority.notAfter - Math.min(Math.floor(lifetime / 2), PREPARE_CAP_MS),
    activateAt: authority.notAfter - Math.min(Math.floor(lifetime / 6), ACTIVATE_CAP_MS),
  };
}

/**
 * The longest SVID TTL a CA of `caTtl` serves in full: an SVID minted just before the next CA
 * takes over still ends before its CA expires.
 */
export function maxSvidTtl(caTtl: Duration): Duration {
  return durationMs(Math.min(Math.floor(caTtl / 6), ACTIVATE_CAP_MS));
}

/** One step the rotation policy asks for, applied in order. */
export type RotationAction =
  | { readonly kind: 'retire'; readonly id: string }
  | { readonly kind: 'prepare' }
  | { readonly kind: 'activate' };

/** A prepared authority is worth activating until its own activation threshold. */
function isFresh(prepared: AuthorityRecordBase | undefined, now: number): boolean {
  return prepared !== undefined && now < rotationSchedule(prepared).activateAt;
}

/**
 * The rotation policy, a pure function of the authorities of one kind and the time: retire
 * expired inactive authorities; with no active authority, or once the active one reaches its
 * activation threshold, activate the prepared one (preparing it first if there is none, or only
 * a stale one); from the preparation threshold on, make sure one is prepared.
 */
export function planRotation(
  records: readonly AuthorityRecordBase[],
  now: number,
): RotationAction[] {
  const actions: RotationAction[] = [];
  for (const r of records) {
    if (
      (r.status === 'prepared' || r.status === 'old' || r.status === 'tainted') &&
      r.notAfter <= now
    )
      actions.push({ kind: 'retire', id: r.id });
  }
  const current = records.find((r) => r.status === 'active');
  const prepared = records.find((r) => r.status === 'prepared');
  const schedule = current === undefined ? undefined : rotationSchedule(current);
  if (schedule === undefined || now >= schedule.activateAt) {
    if (!isFresh(prepared, now)) actions.push({ kind: 'prepare' });
    actions.push({ kind: 'activate' });
  } else if (now >= schedule.prepareAt && !isFresh(prepared, now)) {
    actions.push({ kind: 'prepare' });
  }
  return actions;
}

/**
 * The next instant after `now` at which `planRotation` may ask for something, or `now` when it
 * already does; undefined only when nothing is scheduled.
 */
export function nextRotationCheck(
  records: readonly AuthorityRecordBase[],
  now: number,
): number | undefined {
  if (planRotation(records, now).length > 0) return now;
  const instants: number[] = [];
  for (const r of records) {
    switch (r.status) {
      case 'active': {
        const { prepareAt, activateAt } = rotationSchedule(r);
        instants.push(prepareAt, activateAt);
        break;
      }
      case 'prepared':
        instants.push(rotationSchedule(r).activateAt, r.notAfter);
        break;
      case 'old':
      case 'tainted':
        instants.push(r.notAfter);
        break;
      case 'revoked':
      case 'retired':
        break;
    }
  }
  const future = instants.filter((t) => t > now);
  return future.length === 0 ? undefined : Math.min(...future);
}
