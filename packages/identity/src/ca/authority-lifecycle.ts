import type { AuthorityKind, AuthorityRecordBase, AuthorityStatus } from './authority-record.js';

/** Why an operator's authority operation was refused: an expected outcome, not an exception. */
export type AuthorityRefusal =
  | { readonly reason: 'unknown-authority'; readonly id: string }
  | { readonly reason: 'nothing-prepared' }
  | { readonly reason: 'not-prepared'; readonly id: string; readonly status: AuthorityStatus }
  | { readonly reason: 'prepared-expired'; readonly id: string }
  | {
      readonly reason: 'active-authority';
      readonly id: string;
      readonly operation: 'taint' | 'revoke';
    }
  | {
      readonly reason: 'prepared-authority';
      readonly id: string;
      readonly operation: 'taint' | 'revoke';
    }
  | { readonly reason: 'already-tainted'; readonly id: string }
  | { readonly reason: 'not-tainted'; readonly id: string }
  | {
      readonly reason: 'not-in-bundle';
      readonly id: string;
      readonly status: 'revoked' | 'retired';
      readonly operation: 'taint' | 'revoke';
    }
  | { readonly reason: 'upstream-authority'; readonly id: string };

/** The outcome of a transition: the new records and those it changed, or why it was refused. */
export type Transition<R extends AuthorityRecordBase> =
  | { readonly ok: true; readonly records: readonly R[]; readonly changed: readonly R[] }
  | { readonly ok: false; readonly refusal: AuthorityRefusal };

/** Says why an operation was refused, in words an operator can act on. */
export function describeRefusal(kind: AuthorityKind, refusal: AuthorityRefusal): string {
  const what = kind === 'x509' ? 'X.509 authority' : 'JWT authority';
  switch (refusal.reason) {
    case 'unknown-authority':
      return `no ${what} with id ${JSON.stringify(refusal.id.slice(0, 128))}`;
    case 'nothing-prepared':
      return `cannot activate: no ${what} is prepared (prepare one first)`;
    case 'not-prepared':
      return `cannot activate ${what} ${refusal.id}: only the prepared authority can be activated, and it is ${refusal.status}`;
    case 'prepared-expired':
      return `cannot activate ${what} ${refusal.id}: it has expired (prepare a new one)`;
    case 'active-authority':
      return `cannot ${refusal.operation} the active ${what} ${refusal.id}: prepare and activate another one first`;
    case 'prepared-authority':
      return `cannot ${refusal.operation} the prepared ${what} ${refusal.id}: it has signed nothing yet (prepare again to replace it)`;
    case 'already-tainted':
      return `${what} ${refusal.id} is already tainted`;
    case 'not-tainted':
      return `cannot revoke ${what} ${refusal.id}: only a tainted authority can be revoked (taint it first, and let agents re-issue)`;
    case 'not-in-bundle':
      return `cannot ${refusal.operation} ${what} ${refusal.id}: it is ${refusal.status} and no longer in the bundle`;
    case 'upstream-authority':
      return `cannot revoke ${what} ${refusal.id}: it is an intermediate under an upstream authority whose root the bundle still publishes for other authorities, so revoking would remove nothing (it leaves the bundle when it expires)`;
  }
}

function refuse<R extends AuthorityRecordBase>(refusal: AuthorityRefusal): Transition<R> {
  return { ok: false, refusal };
}

function withChanges<R extends AuthorityRecordBase>(
  records: readonly R[],
  changes: ReadonlyMap<string, AuthorityStatus>,
  sequence: number,
  added?: R,
): Transition<R> {
  const changed: R[] = [];
  const out = records.map((r) => {
    const status = changes.get(r.id);
    if (status === undefined) return r;
    const next = { ...r, status, sequence };
    changed.push(next);
    return next;
  });
  if (added !== undefined) {
    const next = { ...added, status: 'prepared' as const, sequence };
    out.push(next);
    changed.push(next);
  }
  return { ok: true, records: out, changed };
}

/**
 * Adds a freshly prepared authority; a previously prepared one, which never signed, is retired
 * (it leaves the bundle). Every record the transition changes takes `sequence`.
 */
export function prepareAuthority<R extends AuthorityRecordBase>(
  records: readonly R[],
  prepared: R,
  sequence: number,
): Transition<R> {
  if (records.some((r) => r.id === prepared.id))
    throw new TypeError(`authority ${prepared.id} already exists`);
  const changes = new Map<string, AuthorityStatus>();
  for (const r of records) if (r.status === 'prepared') changes.set(r.id, 'retired');
  return withChanges(records, changes, sequence, prepared);
}

/**
 * Activates the prepared authority (optionally naming it, as the operator saw it); the active one
 * becomes old and stays in the bundle.
 */
export function activateAuthority<R extends AuthorityRecordBase>(
  records: readonly R[],
  id: string | undefined,
  now: number,
  sequence: number,
): Transition<R> {
  const prepared = records.find((r) => r.status === 'prepared');
  if (id !== undefined && prepared?.id !== id) {
    const named = records.find((r) => r.id === id);
    return refuse(
      named === undefined
        ? { reason: 'unknown-authority', id }
        : { reason: 'not-prepared', id, status: named.status },
    );
  }
  if (prepared === undefined) return refuse({ reason: 'nothing-prepared' });
  if (prepared.notAfter <= now) return refuse({ reason: 'prepared-expired', id: prepared.id });
  const changes = new Map<string, AuthorityStatus>([[prepared.id, 'active']]);
  for (const r of records) if (r.status === 'active') changes.set(r.id, 'old');
  return withChanges(records, changes, sequence);
}

function checkBundledInactive<R extends AuthorityRecordBase>(
  records: readonly R[],
  id: string,
  operation: 'taint' | 'revoke',
): R | AuthorityRefusal {
  const r = records.find((x) => x.id === id);
  if (r === undefined) return { reason: 'unknown-authority', id };
  switch (r.status) {
    case 'active':
      return { reason: 'active-authority', id, operation };
    case 'prepared':
      return { reason: 'prepared-authority', id, operation };
    case 'revoked':
    case 'retired':
      return { reason: 'not-in-bundle', id, status: r.status, operation };
    case 'old':
    case 'tainted':
      return r;
  }
}

/**
 * Taints an old authority: it stays in the bundle, but agents must re-issue everything it signed
 * (SPIRE's forced rotation). The active and prepared authorities cannot be tainted.
 */
export function taintAuthority<R extends AuthorityRecordBase>(
  records: readonly R[],
  id: string,
  sequence: number,
): Transition<R> {
  const r = checkBundledInactive(records, id, 'taint');
  if ('reason' in r) return refuse(r);
  if (r.status === 'tainted') return refuse({ reason: 'already-tainted', id });
  return withChanges(records, new Map([[id, 'tainted']]), sequence);
}

/** Revokes a tainted authority: it leaves the bundle, so what it signed is no longer trusted. */
export function revokeAuthority<R extends AuthorityRecordBase>(
  records: readonly R[],
  id: string,
  sequence: number,
): Transition<R> {
  const r = checkBundledInactive(records, id, 'revoke');
  if ('reason' in r) return refuse(r);
  if (r.status !== 'tainted') return refuse({ reason: 'not-tainted', id });
  return withChanges(records, new Map([[id, 'revoked']]), sequence);
}

/** Retires an expired authority that is no longer active: it leaves the bundle. */
export function retireAuthority<R extends AuthorityRecordBase>(
  records: readonly R[],
  id: string,
  sequence: number,
): Transition<R> {
  const r = records.find((x) => x.id === id);
  if (r === undefined) return refuse({ reason: 'unknown-authority', id });
  if (r.status === 'active') throw new TypeError(`cannot retire the active authority ${id}`);
  if (r.status === 'revoked' || r.status === 'retired') return withChanges(records, new Map(), 0);
  return withChanges(records, new Map([[id, 'retired']]), sequence);
}

/**
 * Repairs records read back after a crash or from several writers: at most one active (the most
 * recently changed wins, the others become old) and one prepared (the others are retired); an
 * active or prepared authority whose key cannot be used becomes old or retired.
 */
export function normalizeAuthorities<R extends AuthorityRecordBase>(
  records: readonly R[],
  usable: (record: R) => boolean,
  sequence: number,
): Transition<R> {
  const newest = (status: AuthorityStatus): R | undefined =>
    records
      .filter((r) => r.status === status && usable(r))
      .reduce<R | undefined>(
        (best, r) =>
          best === undefined ||
          r.sequence > best.sequence ||
          (r.sequence === best.sequence && r.issuedAt > best.issuedAt)
            ? r
            : best,
        undefined,
      );
  const active = newest('active');
  const prepared = newest('prepared');
  const changes = new Map<string, AuthorityStatus>();
  for (const r of records) {
    if (r.status === 'active' && r !== active) changes.set(r.id, 'old');
    if (r.status === 'prepared' && r !== prepared) changes.set(r.id, 'retired');
  }
  return withChanges(records, changes, sequence);
}

/** The slots an operator sees (`parley authority … show`): active, prepared, and the latest old. */
export interface AuthoritySlots<R extends AuthorityRecordBase> {
  readonly active: R | undefined;
  readonly prepared: R | undefined;
  /** The most recently deactivated authority still in the bundle (old or tainted). */
  readonly old: R | undefined;
}

/** Finds the slots among the records. */
export function authoritySlots<R extends AuthorityRecordBase>(
  records: readonly R[],
): AuthoritySlots<R> {
  let old: R | undefined;
  for (const r of records) {
    if (
      (r.status === 'old' || r.status === 'tainted') &&
      (old === undefined || r.issuedAt > old.issuedAt)
    )
      old = r;
  }
  return {
    active: records.find((r) => r.status === 'active'),
    prepared: records.find((r) => r.status === 'prepared'),
    old,
  };
}
