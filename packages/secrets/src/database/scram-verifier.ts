import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

const ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier of a password as PostgreSQL stores it (RFC 5802 §3, RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Sent instead of the password, so
 * the password never reaches the database server (nor its statement log).
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  // SASLprep is the identity on the ASCII passwords Parley generates.
  if (!/^[\x21-\x7e]+$/.test(password))
    throw new RangeError('the password must be printable ASCII');
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
