import { readFile } from 'node:fs/promises';
import { ParleyError, isJsonArray, isJsonObject, parseJson } from '@parley/core';
import { writeFileAtomic } from '../key-manager/atomic-file.js';
import type { AuthorityJournal } from './authority-journal.js';
import type { AuthorityRecord } from './authority-record.js';

type Stored = Record<string, unknown>;

const BYTES = new Set(['publicKey']);

function encode(record: AuthorityRecord): Stored {
  const out: Stored = { ...record };
  if (record.kind === 'x509')
    out['certChain'] = record.certChain.map((c) => Buffer.from(c).toString('base64'));
  else out['publicKey'] = Buffer.from(record.publicKey).toString('base64');
  return out;
}

function decode(value: unknown): AuthorityRecord {
  const o = value as Stored;
  const copy: Stored = { ...o };
  if (o['kind'] === 'x509')
    copy['certChain'] = (o['certChain'] as string[]).map((c) => Buffer.from(c, 'base64'));
  for (const k of BYTES) if (typeof o[k] === 'string') copy[k] = Buffer.from(o[k], 'base64');
  return copy as unknown as AuthorityRecord;
}

/**
 * An AuthorityJournal in one JSON file, replaced atomically on every save: the CA's state for a
 * single server (replicas sharing PostgreSQL need the store-backed journal).
 */
export class FileAuthorityJournal implements AuthorityJournal {
  #records: AuthorityRecord[] | undefined;

  constructor(private readonly path: string) {}

  async load(): Promise<readonly AuthorityRecord[]> {
    if (this.#records !== undefined) return this.#records;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.#records = [];
      return this.#records;
    }
    // Parsed strictly (duplicate keys rejected) to check the shape, then read with JSON.parse.
    const doc = parseJson(text, { maxLength: 64 << 20 });
    if (!isJsonObject(doc) || !isJsonArray(doc.get('authorities'))) {
      throw new ParleyError('internal', `authority journal ${this.path} is malformed`);
    }
    this.#records = (JSON.parse(text) as { authorities: unknown[] }).authorities.map(decode);
    return this.#records;
  }

  async save(record: AuthorityRecord): Promise<void> {
    const records = [...(await this.load())];
    const i = records.findIndex((r) => r.kind === record.kind && r.id === record.id);
    if (i === -1) records.push(record);
    else records[i] = record;
    await writeFileAtomic(
      this.path,
      Buffer.from(JSON.stringify({ authorities: records.map(encode) })),
      0o600,
    );
    this.#records = records;
  }
}
