import { type Clock, ParleyError } from '@parley/core';
import type { SecretCapability } from '@parley/api';
import {
  type AuditDetailValue,
  AuditBatcher,
  type Database,
  type SecretRead,
  type StoredSecret,
  type StoredSecretVersion,
  type Transaction,
  appendAudit,
  deleteSecret,
  destroySecretVersions,
  getSecret,
  getSecretVersion,
  insertSecret,
  insertSecretVersion,
  listEndedGraces,
  listSecretConsumers,
  listSecretPaths,
  listSecretVersions,
  listSecretsNotWrappedBy,
  pruneSecretVersions,
  recordSecretReads,
  setVersionsDeletion,
  updateSecret,
} from '@parley/store';
import { dataKeyAad, newDataKey, openValue, sealValue, valueAad } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import type {
  AccessDecision,
  AccessRequest,
  MetadataSettings,
  RotationStatus,
  SecretCaller,
  SecretData,
  SecretEngine,
  SecretMetadata,
  SimpleOutcome,
  VersionMetadata,
  WriteOutcome,
} from './secret-types.js';

/** Vault's default number of versions kept (max_versions 0). */
const DEFAULT_MAX_VERSIONS = 10;
const DEFAULT_MAX_VALUE_BYTES = 512 * 1024;
/** A staged (pending) rotation older than this is taken to have died with its server. */
const PENDING_TIMEOUT_MS = 60_000;
const DATA_KEY_CACHE = 10_000;
/** Ended graces revoked per run of `finishExpiredGraces` (the rest wait for the next run). */
const GRACES_PER_RUN = 100;
/** The caller recorded for revocations at the end of a grace. */
const SERVER: SecretCaller = { kind: 'admin', name: 'parley-server' };

type Detail = Record<string, AuditDetailValue>;

/** No audit record, no answer (Vault's rule): the request fails as an internal error. */
function auditFailed(cause: unknown): never {
  throw new ParleyError('internal', 'the audit record could not be written', { cause });
}

function subjectOf(caller: SecretCaller): string {
  return caller.kind === 'admin' ? caller.name : caller.spiffeId;
}

function customOf(secret: StoredSecret): Record<string, string> {
  return JSON.parse(secret.customMetadata) as Record<string, string>;
}

function versionMeta(v: StoredSecretVersion): VersionMetadata {
  return {
    version: v.version,
    createdTime: v.createdAt,
    deletionTime: v.deletionTime,
    destroyed: v.destroyed,
  };
}

/**
 * Creates the KV v2 engine over the datastore (docs/secrets.md): values sealed with AES-256-GCM
 * under a per-secret data key wrapped by the keyring's active key; Vault's version semantics
 * (CAS, max_versions, delete_version_after, delete/undelete/destroy); rotation with a grace
 * period and consumer tracking; every request decided by `decide` (admins always allowed) and
 * audited — a change in its own transaction, everything else through a group commit.
 */
export function createSecretEngine(deps: {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly decide: (request: AccessRequest) => AccessDecision;
  /** Called with a previous version's data before it is revoked (a database login is revoked). */
  readonly beforeRevoke?: (path: string, data: SecretData) => Promise<void>;
  readonly mount?: string;
  readonly maxValueBytes?: number;
}): SecretEngine {
  const { db, keyring, clock } = deps;
  const mount = deps.mount ?? 'secret';
  const maxValueBytes = deps.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const batcher = new AuditBatcher<SecretRead>(db, recordSecretReads);
  const dataKeys = new Map<string, Buffer>();

  function dataKeyOf(secret: StoredSecret): Buffer {
    const id = `${secret.kekId}\n${secret.wrappedDataKey.toString('base64')}`;
    let key = dataKeys.get(id);
    if (key === undefined) {
      key = keyring.unwrap(secret.kekId, secret.wrappedDataKey, dataKeyAad(mount, secret.path));
      if (dataKeys.size >= DATA_KEY_CACHE) dataKeys.clear();
      dataKeys.set(id, key);
    }
    return key;
  }

  function open(secret: StoredSecret, v: StoredSecretVersion): SecretData {
    if (v.sealedValue === undefined) throw new ParleyError('internal', 'the version is destroyed');
    const plain = openValue(
      dataKeyOf(secret),
      v.sealedValue,
      valueAad(mount, secret.path, v.version),
    );
    return JSON.parse(plain.toString('utf8')) as SecretData;
  }

  function seal(secret: StoredSecret, version: number, data: SecretData): Buffer {
    return sealValue(
      dataKeyOf(secret),
      Buffer.from(JSON.stringify(data), 'utf8'),
      valueAad(mount, secret.path, version),
    );
  }

  function newSecret(path: string, now: number): StoredSecret {
    const wrapped = keyring.wrap(newDataKey(), dataKeyAad(mount, path));
    return {
      mount,
      path,
      currentVersion: 0,
      oldestVersion: 0,
      maxVersions: 0,
      casRequired: false,
      deleteVersionAfterMs: 0,
      customMetadata: '{}',
      kekId: wrapped.kekId,
      wrappedDataKey: wrapped.wrapped,
      previousVersion: undefined,
      previousValidUntil: undefined,
      pendingSince: undefined,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** A version is readable unless destroyed, deleted by now, or a previous one past its grace. */
  function unavailable(secret: StoredSecret, v: StoredSecretVersion, now: number): boolean {
    if (v.destroyed) return true;
    if (v.deletionTime !== undefined && v.deletionTime <= now) return true;
    return (
      v.version === secret.previousVersion &&
      secret.previousValidUntil !== undefined &&
      secret.previousValidUntil <= now
    );
  }

  /**
   * The oldest version kept once `version` is written: max_versions (0 = Vault's 10) counted
   * back from it, but never past a previous version still in its rotation grace.
   */
  function oldestKept(secret: StoredSecret, version: number): number {
    const keep = secret.maxVersions === 0 ? DEFAULT_MAX_VERSIONS : secret.maxVersions;
    let oldest = Math.max(version - keep + 1, 1);
    if (secret.previousVersion !== undefined) oldest = Math.min(oldest, secret.previousVersion);
    return Math.max(oldest, secret.oldestVersion);
  }

  /**
   * Stores `data` as `version` of `secret` (sealed, with its deletion time) and prunes what
   * max_versions drops; returns the oldest version kept and the new version's deletion time.
   */
  async function addVersion(
    tx: Transaction,
    path: string,
    secret: StoredSecret,
    version: number,
    data: SecretData,
    now: number,
  ): Promise<{ oldest: number; deletionTime: number | undefined }> {
    const deletionTime =
      secret.deleteVersionAfterMs > 0 ? now + secret.deleteVersionAfterMs : undefined;
    await insertSecretVersion(tx, mount, path, {
      version,
      createdAt: now,
      deletionTime,
      sealedValue: seal(secret, version, data),
    });
    const oldest = oldestKept(secret, version);
    if (oldest > secret.oldestVersion) await pruneSecretVersions(tx, mount, path, oldest);
    return { oldest, deletionTime };
  }

  function event(caller: SecretCaller, action: string, detail: Detail) {
    return { at: clock.now(), module: 'secrets', action, subject: subjectOf(caller), detail };
  }

  /** Decides a request; a denial is audited (group commit) before the caller learns of it. */
  async function authorize(
    caller: SecretCaller,
    action: string,
    path: string,
    capability: SecretCapability,
    requestId: string,
  ): Promise<Detail | undefined> {
    if (caller.kind === 'admin') return { path, outcome: 'allowed', requestId };
    const d = deps.decide({ spiffeId: caller.spiffeId, path, capability });
    if (d.allowed) return { path, outcome: 'allowed', policy: d.policy, rule: d.rule, requestId };
    await batcher.record(
      event(caller, action, {
        path,
        outcome: 'denied',
        reason: d.reason,
        ...(d.policy !== undefined && { policy: d.policy }),
        ...(d.rule !== undefined && { rule: d.rule }),
        requestId,
      }),
    );
    return undefined;
  }

  /** Runs a change and its audit event in one transaction, under the secret's lock. */
  function change<T>(
    path: string,
    fn: (
      tx: Transaction,
      secret: StoredSecret | undefined,
      now: number,
    ) => Promise<{ result: T; audit?: ReturnType<typeof event> }>,
  ): Promise<T> {
    return db.transaction(async (tx) => {
      await tx.lock(`parley.secrets/${mount}/${path}`);
      const now = clock.now();
      const { result, audit } = await fn(tx, await getSecret(tx, mount, path), now);
      if (audit !== undefined) await appendAudit(tx, audit).catch(auditFailed);
      return result;
    });
  }

  async function versionsOp(
    caller: SecretCaller,
    path: string,
    which: readonly number[] | 'latest',
    requestId: string,
    op: 'delete' | 'undelete' | 'destroy',
  ): Promise<SimpleOutcome> {
    const action = `kv.${op}`;
    const allowed = await authorize(
      caller,
      action,
      path,
      op === 'undelete' ? 'delete' : op,
      requestId,
    );
    if (allowed === undefined) return { kind: 'denied' };
    const outcome = await change<SimpleOutcome>(path, async (tx, secret, now) => {
      if (secret === undefined) return { result: { kind: 'not-found' } };
      const versions = which === 'latest' ? [secret.currentVersion] : which;
      if (op === 'destroy') await destroySecretVersions(tx, mount, path, versions);
      else await setVersionsDeletion(tx, mount, path, versions, op === 'delete' ? now : undefined);
      return {
        result: { kind: 'ok' },
        audit: event(caller, action, { ...allowed, versions: [...versions] }),
      };
    });
    // Outside the change's transaction: the group commit runs its own.
    if (outcome.kind === 'not-found') {
      await batcher.record(event(caller, action, { ...allowed, outcome: 'not-found' }));
    }
    return outcome;
  }

  async function revoke(
    caller: SecretCaller,
    path: string,
    requestId: string,
  ): Promise<SimpleOutcome> {
    const found = await getSecretVersion(db, mount, path, 0);
    const previous = found?.secret.previousVersion;
    if (found === undefined || previous === undefined) return { kind: 'not-found' };
    const prev = await getSecretVersion(db, mount, path, previous);
    if (deps.beforeRevoke !== undefined && prev?.version?.sealedValue !== undefined) {
      await deps.beforeRevoke(path, open(prev.secret, prev.version));
    }
    return change<SimpleOutcome>(path, async (tx, secret, now) => {
      if (secret === undefined || secret.previousVersion !== previous) {
        return { result: { kind: 'not-found' } };
      }
      await destroySecretVersions(tx, mount, path, [previous]);
      await updateSecret(tx, {
        ...secret,
        previousVersion: undefined,
        previousValidUntil: undefined,
        updatedAt: now,
      });
      return {
        result: { kind: 'ok' },
        audit: event(caller, 'revoke', { path, version: previous, outcome: 'allowed', requestId }),
      };
    });
  }

  async function status(path: string): Promise<RotationStatus | undefined> {
    const secret = await getSecret(db, mount, path);
    if (secret === undefined) return undefined;
    const consumers = await listSecretConsumers(db, mount, path);
    return {
      path,
      current: secret.currentVersion,
      ...(secret.previousVersion !== undefined && { previous: secret.previousVersion }),
      ...(secret.previousValidUntil !== undefined && {
        previousValidUntil: secret.previousValidUntil,
      }),
      consumers: consumers.map((c) => ({
        spiffeId: c.spiffeId,
        lastReadVersion: c.version,
        lastReadAt: c.lastReadAt,
        hasCurrent: c.version >= secret.currentVersion,
      })),
    };
  }

  return {
    async read(caller, path, { version, requestId }) {
      const allowed = await authorize(caller, 'kv.read', path, 'read', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      const found = await getSecretVersion(db, mount, path, version ?? 0);
      const now = clock.now();
      const v = found?.version;
      if (found === undefined || v === undefined || v.version < found.secret.oldestVersion) {
        await batcher.record(event(caller, 'kv.read', { ...allowed, outcome: 'not-found' }));
        return { kind: 'not-found' };
      }
      const customMetadata = customOf(found.secret);
      if (unavailable(found.secret, v, now)) {
        await batcher.record(
          event(caller, 'kv.read', { ...allowed, version: v.version, outcome: 'unavailable' }),
        );
        return { kind: 'unavailable', version: versionMeta(v), customMetadata };
      }
      const data = open(found.secret, v);
      await batcher.record(
        event(caller, 'kv.read', { ...allowed, version: v.version }),
        caller.kind === 'workload'
          ? { mount, path, version: v.version, spiffeId: caller.spiffeId, at: now }
          : undefined,
      );
      return { kind: 'ok', data, version: versionMeta(v), customMetadata };
    },

    async write(caller, path, data, { cas, requestId }) {
      const allowed = await authorize(caller, 'kv.write', path, 'write', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      if (Buffer.byteLength(JSON.stringify(data), 'utf8') > maxValueBytes) {
        await batcher.record(event(caller, 'kv.write', { ...allowed, outcome: 'too-large' }));
        return { kind: 'too-large' };
      }
      const outcome = await change<WriteOutcome>(path, async (tx, existing, now) => {
        const secret = existing ?? newSecret(path, now);
        if (secret.casRequired && cas === undefined)
          return { result: { kind: 'cas-required' as const } };
        if (cas !== undefined && cas !== secret.currentVersion) {
          return { result: { kind: 'cas-mismatch' as const } };
        }
        if (existing === undefined) await insertSecret(tx, secret);
        const version = secret.currentVersion + 1;
        const { oldest, deletionTime } = await addVersion(tx, path, secret, version, data, now);
        await updateSecret(tx, {
          ...secret,
          currentVersion: version,
          oldestVersion: oldest,
          updatedAt: now,
        });
        return {
          result: {
            kind: 'ok' as const,
            version: { version, createdTime: now, deletionTime, destroyed: false },
            customMetadata: customOf(secret),
          },
          audit: event(caller, 'kv.write', {
            ...allowed,
            version,
            ...(cas !== undefined && { cas }),
          }),
        };
      });
      if (outcome.kind !== 'ok') {
        await batcher.record(event(caller, 'kv.write', { ...allowed, outcome: outcome.kind }));
      }
      return outcome;
    },

    deleteLatest: (caller, path, { requestId }) =>
      versionsOp(caller, path, 'latest', requestId, 'delete'),
    deleteVersions: (caller, path, versions, { requestId }) =>
      versionsOp(caller, path, versions, requestId, 'delete'),
    undeleteVersions: (caller, path, versions, { requestId }) =>
      versionsOp(caller, path, versions, requestId, 'undelete'),
    destroyVersions: (caller, path, versions, { requestId }) =>
      versionsOp(caller, path, versions, requestId, 'destroy'),

    async readMetadata(caller, path, { requestId }) {
      const allowed = await authorize(caller, 'kv.metadata.read', path, 'read', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      const secret = await getSecret(db, mount, path);
      if (secret === undefined) {
        await batcher.record(
          event(caller, 'kv.metadata.read', { ...allowed, outcome: 'not-found' }),
        );
        return { kind: 'not-found' };
      }
      const versions = await listSecretVersions(db, mount, path);
      await batcher.record(event(caller, 'kv.metadata.read', allowed));
      const metadata: SecretMetadata = {
        path,
        currentVersion: secret.currentVersion,
        oldestVersion: secret.oldestVersion,
        maxVersions: secret.maxVersions,
        casRequired: secret.casRequired,
        deleteVersionAfterMs: secret.deleteVersionAfterMs,
        customMetadata: customOf(secret),
        createdTime: secret.createdAt,
        updatedTime: secret.updatedAt,
        versions: versions.map(versionMeta),
        staging: {
          current: secret.currentVersion,
          ...(secret.previousVersion !== undefined && { previous: secret.previousVersion }),
          ...(secret.previousValidUntil !== undefined && {
            previousValidUntil: secret.previousValidUntil,
          }),
        },
      };
      return { kind: 'ok', metadata };
    },

    async writeMetadata(caller, path, settings: MetadataSettings, { requestId }) {
      for (const key of ['maxVersions', 'deleteVersionAfterMs'] as const) {
        const value = settings[key];
        if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
          throw new RangeError(`${key} must be a non-negative integer`);
        }
      }
      const allowed = await authorize(caller, 'kv.metadata.write', path, 'write', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      return change<SimpleOutcome>(path, async (tx, existing, now) => {
        const base = existing ?? newSecret(path, now);
        const next: StoredSecret = {
          ...base,
          ...(settings.maxVersions !== undefined && { maxVersions: settings.maxVersions }),
          ...(settings.casRequired !== undefined && { casRequired: settings.casRequired }),
          ...(settings.deleteVersionAfterMs !== undefined && {
            deleteVersionAfterMs: settings.deleteVersionAfterMs,
          }),
          ...(settings.customMetadata !== undefined && {
            customMetadata: JSON.stringify(settings.customMetadata),
          }),
          updatedAt: now,
        };
        if (existing === undefined) await insertSecret(tx, next);
        else await updateSecret(tx, next);
        return {
          result: { kind: 'ok' },
          audit: event(caller, 'kv.metadata.write', {
            ...allowed,
            settings: Object.keys(settings),
          }),
        };
      });
    },

    async deleteMetadata(caller, path, { requestId }) {
      const allowed = await authorize(caller, 'kv.metadata.delete', path, 'destroy', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      const outcome = await change<SimpleOutcome>(path, async (tx, existing) =>
        existing === undefined
          ? { result: { kind: 'not-found' } }
          : {
              result: (await deleteSecret(tx, mount, path))
                ? { kind: 'ok' }
                : { kind: 'not-found' },
              audit: event(caller, 'kv.metadata.delete', allowed),
            },
      );
      if (outcome.kind === 'not-found') {
        await batcher.record(
          event(caller, 'kv.metadata.delete', { ...allowed, outcome: 'not-found' }),
        );
      }
      return outcome;
    },

    async list(caller, folder, { requestId }) {
      const allowed = await authorize(caller, 'kv.list', folder, 'list', requestId);
      if (allowed === undefined) return { kind: 'denied' };
      const paths = await listSecretPaths(db, mount, folder);
      const prefix = folder === '' ? '' : `${folder}/`;
      const keys = new Set<string>();
      for (const p of paths) {
        const rest = p.slice(prefix.length);
        const slash = rest.indexOf('/');
        keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
      }
      await batcher.record(event(caller, 'kv.list', { ...allowed, keys: keys.size }));
      return keys.size === 0 ? { kind: 'not-found' } : { kind: 'ok', keys: [...keys].sort() };
    },

    async rotate(caller, path, { graceMs, requestId, produce }) {
      if (caller.kind !== 'admin') throw new ParleyError('permission-denied', 'permission denied');
      if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
        throw new RangeError('graceMs must be a non-negative integer of milliseconds');
      }
      // A previous version still in its grace is revoked first: one grace at a time.
      await revoke(caller, path, requestId);
      // Stage: mark the rotation pending (one at a time per secret), then produce the value
      // outside any transaction (it may change a database login, which takes its time).
      const staged = await change(path, async (tx, existing, now) => {
        if (
          existing?.pendingSince !== undefined &&
          now - existing.pendingSince < PENDING_TIMEOUT_MS
        ) {
          throw new ParleyError('failed-precondition', `a rotation of ${path} is in progress`);
        }
        const secret = existing ?? newSecret(path, now);
        if (existing === undefined) await insertSecret(tx, { ...secret, pendingSince: now });
        else await updateSecret(tx, { ...secret, pendingSince: now });
        const current =
          secret.currentVersion === 0
            ? undefined
            : (await getSecretVersion(tx, mount, path, secret.currentVersion))?.version;
        return {
          result: {
            pendingSince: now,
            created: existing === undefined,
            current:
              current === undefined || unavailable(secret, current, now)
                ? undefined
                : open(secret, current),
          },
        };
      });
      const isOurs = (s: StoredSecret | undefined): s is StoredSecret =>
        s !== undefined && s.pendingSince === staged.pendingSince;
      /** Drops the pending stage: the current version stays current, nothing is added. */
      const discardStage = async (
        tx: Transaction,
        secret: StoredSecret | undefined,
        now: number,
      ) => {
        if (!isOurs(secret)) return;
        if (staged.created && secret.currentVersion === 0) await deleteSecret(tx, mount, path);
        else await updateSecret(tx, { ...secret, pendingSince: undefined, updatedAt: now });
      };
      let data: SecretData;
      try {
        data = await produce(staged.current);
        if (Buffer.byteLength(JSON.stringify(data), 'utf8') > maxValueBytes) {
          throw new ParleyError('invalid-argument', `the rotated value of ${path} is too large`);
        }
      } catch (err) {
        await change(path, async (tx, secret, now) => {
          await discardStage(tx, secret, now);
          return {
            result: undefined,
            audit: event(caller, 'rotate', { path, outcome: 'failed', requestId }),
          };
        });
        throw err;
      }
      const commit = change(path, async (tx, existing, now) => {
        if (!isOurs(existing)) {
          // Deleted, or taken over by another rotation after PENDING_TIMEOUT_MS.
          throw new ParleyError('failed-precondition', `the rotation of ${path} was superseded`);
        }
        const version = existing.currentVersion + 1;
        const previous = existing.currentVersion === 0 ? undefined : existing.currentVersion;
        const secret: StoredSecret = {
          ...existing,
          currentVersion: version,
          previousVersion: previous,
          previousValidUntil: previous === undefined ? undefined : now + graceMs,
          pendingSince: undefined,
          updatedAt: now,
        };
        const { oldest } = await addVersion(tx, path, secret, version, data, now);
        await updateSecret(tx, { ...secret, oldestVersion: oldest });
        return {
          result: undefined,
          audit: event(caller, 'rotate', {
            path,
            version,
            ...(previous !== undefined && { previous, graceMs }),
            outcome: 'allowed',
            requestId,
          }),
        };
      });
      await commit.catch(async (err: unknown) => {
        // Not committed (its audit record could not be written, say): the stage is dropped
        // so that the next rotation need not wait for PENDING_TIMEOUT_MS.
        await change(path, async (tx, secret, now) => {
          await discardStage(tx, secret, now);
          return { result: undefined };
        }).catch(() => undefined);
        throw err;
      });
      return (await status(path)) as RotationStatus;
    },

    rotationStatus: status,

    async revokePrevious(caller, path, { requestId }) {
      if (caller.kind !== 'admin') throw new ParleyError('permission-denied', 'permission denied');
      return revoke(caller, path, requestId);
    },

    async finishExpiredGraces() {
      const ended = await listEndedGraces(db, clock.now(), GRACES_PER_RUN);
      let n = 0;
      const failed: { path: string; err: unknown }[] = [];
      // One secret that cannot be revoked (its database is down) does not hold up the others.
      for (const s of ended) {
        try {
          const r = await revoke(SERVER, s.path, 'grace-ended');
          if (r.kind === 'ok') n += 1;
        } catch (err) {
          failed.push({ path: s.path, err });
        }
      }
      const [first] = failed;
      if (first !== undefined) {
        throw new ParleyError(
          'unavailable',
          `${failed.length} ended grace(s) could not be revoked, the first of ${first.path}`,
          { cause: first.err },
        );
      }
      return n;
    },

    async rewrap(caller, { requestId }) {
      if (caller.kind !== 'admin') throw new ParleyError('permission-denied', 'permission denied');
      let rewrapped = 0;
      for (;;) {
        const batch = await listSecretsNotWrappedBy(db, keyring.activeId, 100);
        if (batch.length === 0) break;
        for (const s of batch) {
          await change(s.path, async (tx, secret, now) => {
            if (secret === undefined || secret.kekId === keyring.activeId)
              return { result: undefined };
            const aad = dataKeyAad(mount, secret.path);
            const w = keyring.wrap(keyring.unwrap(secret.kekId, secret.wrappedDataKey, aad), aad);
            await updateSecret(tx, {
              ...secret,
              kekId: w.kekId,
              wrappedDataKey: w.wrapped,
              updatedAt: now,
            });
            rewrapped += 1;
            return { result: undefined };
          });
        }
      }
      await db.transaction((tx) =>
        appendAudit(
          tx,
          event(caller, 'rewrap', {
            keyEncryptionKey: keyring.activeId,
            rewrapped,
            outcome: 'allowed',
            requestId,
          }),
        ),
      );
      return { rewrapped };
    },
  };
}
