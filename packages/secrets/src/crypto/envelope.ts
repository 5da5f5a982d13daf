import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ParleyError } from '@parley/core';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh random 256-bit data key (one per secret). */
export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`an AES-256 key has ${KEY_BYTES} bytes`);
}

/**
 * Encrypts `plaintext` with AES-256-GCM under `key` and a fresh random nonce, authenticating
 * `aad` too; returns `nonce ‖ ciphertext ‖ tag`.
 */
export function sealValue(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/** Decrypts what `sealValue` produced; throws an `internal` error when it does not authenticate. */
export function openValue(key: Buffer, sealed: Buffer, aad: string): Buffer {
  checkKey(key);
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new ParleyError('internal', 'a sealed value is truncated');
  }
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    const body = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
    return Buffer.concat([body, decipher.final()]);
  } catch (err) {
    throw new ParleyError('internal', 'a sealed value does not authenticate (wrong key or data)', {
      cause: err,
    });
  }
}

/** The associated data of a secret's wrapped data key: binds it to the secret's mount and path. */
export function dataKeyAad(mount: string, path: string): string {
  return `parley/secrets/data-key/v1\n${mount}\n${path}`;
}

/** The associated data of one version's value: binds it to mount, path and version. */
export function valueAad(mount: string, path: string, version: number): string {
  return `parley/secrets/value/v1\n${mount}\n${path}\n${version}`;
}
