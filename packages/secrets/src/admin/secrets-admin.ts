import { randomBytes } from 'node:crypto';
import { type Clock, invalidArgument } from '@parley/core';
import type { SecretPath, SecretPolicy } from '@parley/api';
import {
  type Database,
  appendAudit,
  deleteSecretPolicy,
  getSecretPolicy,
  listSecretPolicies,
  putSecretPolicy,
} from '@parley/store';
import type { SecretsAdmin } from '../api/secrets-api.js';
import {
  type JsonObjectBody,
  optionalDurationMs,
  requireObject,
  strictKeys,
} from '../api/request-fields.js';
import type { RotationStatus, SecretCaller, SecretData, SecretEngine } from '../kv/index.js';

/** A database whose logins Parley rotates: the next credential, and revocation of an old one. */
export interface RotatableDatabase {
  /** The two roles Parley alternates between. */
  readonly roles: readonly [string, string];
  next(
    binding: { readonly roles: readonly [string, string] },
    current: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Record<string, string | number>>;
  revoke(role: string): Promise<void>;
}

const POLICY_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DEFAULT_GRACE_MS = 5 * 60_000;
const MAX_GENERATED = 16;

function subjectOf(caller: SecretCaller): string {
  return caller.kind === 'admin' ? caller.name : caller.spiffeId;
}

function checkPolicyName(name: string): void {
  if (!POLICY_NAME.test(name)) {
    throw invalidArgument('a policy name is 1–63 lower-case letters, digits and dashes');
  }
}

/** Random printable text (base64url) of `length` characters, for generated secret values. */
function generated(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4) + 1)
    .toString('base64url')
    .slice(0, length);
}

/** The status of a rotation as the API prints it (snake_case, as Vault's bodies). */
export function rotationJson(s: RotationStatus): object {
  return {
    path: s.path,
    current_version: s.current,
    previous_version: s.previous ?? null,
    previous_valid_until:
      s.previousValidUntil === undefined ? null : new Date(s.previousValidUntil).toISOString(),
    consumers: s.consumers.map((c) => ({
      spiffe_id: c.spiffeId,
      last_read_version: c.lastReadVersion,
      last_read_at: new Date(c.lastReadAt).toISOString(),
      has_current: c.hasCurrent,
    })),
  };
}

/**
 * Parley's admin operations on secrets: SecretPolicy documents stored in the datastore (beside
 * those of the mesh config repository), rotation with grace (generated values, or a database
 * login), revocation of a previous version, and re-wrapping every data key under the active
 * key-encryption key. Policy changes are audited in their transaction.
 */
export function createSecretsAdmin(deps: {
  readonly db: Database;
  readonly clock: Clock;
  readonly engine: SecretEngine;
  /** Parses a policy body (`{ rules: [...] }`), throwing an error listing every problem. */
  readonly parsePolicy: (name: string, spec: unknown) => SecretPolicy;
  /** Reloads the effective set after a stored policy changed (awaited: the change is in force on return). */
  readonly policiesChanged: () => Promise<void>;
  readonly databases: ReadonlyMap<string, RotatableDatabase>;
}): SecretsAdmin {
  const { db, clock, engine } = deps;

  function newData(current: SecretData | undefined, body: JsonObjectBody): SecretData {
    const out: Record<string, unknown> = { ...(current ?? {}) };
    if (body['data'] !== undefined) Object.assign(out, requireObject(body['data'], 'data'));
    const generate = body['generate'];
    if (generate !== undefined) {
      if (!Array.isArray(generate) || generate.length === 0 || generate.length > MAX_GENERATED) {
        throw invalidArgument(`generate must list 1 to ${MAX_GENERATED} keys`);
      }
      for (const g of generate) {
        const item = requireObject(g, 'generate item');
        strictKeys(item, ['key', 'length'], 'generate item');
        const key = item['key'];
        const length = item['length'] ?? 32;
        if (typeof key !== 'string' || key === '' || key.length > 128) {
          throw invalidArgument('generate key must be a name of 1 to 128 characters');
        }
        if (
          typeof length !== 'number' ||
          !Number.isInteger(length) ||
          length < 16 ||
          length > 256
        ) {
          throw invalidArgument('generate length must be an integer from 16 to 256');
        }
        Object.defineProperty(out, key, {
          value: generated(length),
          enumerable: true,
          writable: true,
        });
      }
    }
    return out;
  }

  return {
    listPolicies: async () => (await listSecretPolicies(db)).map((p) => p.name),
    getPolicy: async (name) => {
      checkPolicyName(name);
      const p = await getSecretPolicy(db, name);
      return p === undefined ? undefined : (JSON.parse(p.document) as unknown);
    },
    putPolicy: async (caller, name, spec, requestId) => {
      checkPolicyName(name);
      deps.parsePolicy(name, spec);
      const now = clock.now();
      await db.transaction(async (tx) => {
        await putSecretPolicy(tx, { name, document: JSON.stringify(spec), now });
        await appendAudit(tx, {
          at: now,
          module: 'secrets',
          action: 'policy.write',
          subject: subjectOf(caller),
          detail: { policy: name, outcome: 'allowed', requestId },
        });
      });
      await deps.policiesChanged();
    },
    deletePolicy: async (caller, name, requestId) => {
      checkPolicyName(name);
      const now = clock.now();
      const deleted = await db.transaction(async (tx) => {
        const gone = await deleteSecretPolicy(tx, name);
        if (gone) {
          await appendAudit(tx, {
            at: now,
            module: 'secrets',
            action: 'policy.delete',
            subject: subjectOf(caller),
            detail: { policy: name, outcome: 'allowed', requestId },
          });
        }
        return gone;
      });
      await deps.policiesChanged();
      return deleted;
    },
    rotate: async (caller, path: SecretPath, body, requestId) => {
      strictKeys(body, ['data', 'generate', 'grace', 'database'], 'rotate request');
      const graceMs = optionalDurationMs(body, 'grace') ?? DEFAULT_GRACE_MS;
      const database = body['database'];
      let produce: ((current: SecretData | undefined) => Promise<SecretData>) | undefined;
      if (database !== undefined) {
        if (typeof database !== 'string') throw invalidArgument('database must be a name');
        const target = deps.databases.get(database);
        if (target === undefined) {
          throw invalidArgument(
            `no database "${database.slice(0, 64)}" is configured for rotation`,
          );
        }
        if (body['data'] !== undefined || body['generate'] !== undefined) {
          throw invalidArgument('a database rotation generates its own value: give no data');
        }
        produce = async (current) => target.next({ roles: target.roles }, current);
      } else if (body['data'] === undefined && body['generate'] === undefined) {
        throw invalidArgument('rotate needs data, generate or database');
      }
      const status = await engine.rotate(caller, path, {
        graceMs,
        requestId,
        produce: produce ?? (async (current) => newData(current, body)),
      });
      return rotationJson(status);
    },
    rotationStatus: async (path) => {
      const s = await engine.rotationStatus(path);
      return s === undefined ? undefined : rotationJson(s);
    },
    revokePrevious: async (caller, path, requestId) => {
      const r = await engine.revokePrevious(caller, path, { requestId });
      return r.kind === 'ok';
    },
    rewrap: (caller, requestId) => engine.rewrap(caller, { requestId }),
  };
}
