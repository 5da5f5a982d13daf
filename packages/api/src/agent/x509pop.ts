/** Wire format of the `x509pop` node attestation (shared by the agent and the server). */

/** Chains longer than this are refused before any parsing. */
export const MAX_X509POP_CHAIN = 8;

/** Domain separation for the proof-of-possession signature. */
const CONTEXT = Buffer.from('parley x509pop v1\0');

/** What the agent signs (SHA-256 with the leaf's key) to answer a challenge `nonce`. */
export function x509popSigningInput(nonce: Uint8Array): Buffer {
  return Buffer.concat([CONTEXT, nonce]);
}

/** Encodes a certificate chain (DER, leaf first) as the attestation payload. */
export function encodeX509popPayload(chain: readonly Uint8Array[]): Buffer {
  return Buffer.concat(
    chain.flatMap((der) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(der.length);
      return [len, Buffer.from(der)];
    }),
  );
}

/** Splits a payload into DER certificates; undefined when malformed or longer than allowed. */
export function decodeX509popPayload(payload: Uint8Array): Buffer[] | undefined {
  const buf = Buffer.from(payload);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (out.length >= MAX_X509POP_CHAIN || pos + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(pos);
    pos += 4;
    if (len === 0 || pos + len > buf.length) return undefined;
    out.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}
