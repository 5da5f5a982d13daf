/** DER encoding (ITU-T X.690 §10) of the few ASN.1 types X.509 and JOSE need. */

/** The DER length octets for a content of `n` bytes (X.690 §8.1.3, definite form, minimal). */
export function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff);
  if (n < 0x1000000) return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff);
  throw new RangeError('DER content too long');
}

/** A TLV with a one-byte tag and the given content parts. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const lenBytes = derLength(len);
  const out = Buffer.allocUnsafe(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  let off = 1 + lenBytes.length;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Universal tags used by Parley. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** SEQUENCE of the given encoded elements. */
export function derSequence(...parts: readonly Uint8Array[]): Buffer {
  return tlv(Tag.sequence, ...parts);
}

/** SET of the given encoded elements (callers pass them already in DER order). */
export function derSet(...parts: readonly Uint8Array[]): Buffer {
  return tlv(Tag.set, ...parts);
}

/** A context-specific tag `[n]`, constructed (EXPLICIT or constructed IMPLICIT) or primitive. */
export function derContext(
  n: number,
  constructed: boolean,
  ...parts: readonly Uint8Array[]
): Buffer {
  return tlv(0x80 | (constructed ? 0x20 : 0) | n, ...parts);
}

/** INTEGER from an unsigned big-endian magnitude (minimal, with a 0x00 pad when the top bit is set). */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return tlv(Tag.integer, Uint8Array.of(0));
  return (m[0] ?? 0) & 0x80 ? tlv(Tag.integer, Uint8Array.of(0), m) : tlv(Tag.integer, m);
}

/** INTEGER from a small non-negative number. */
export function derSmallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`bad integer ${n}`);
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return derUnsignedInteger(Uint8Array.from(bytes));
}

const OID_CACHE = new Map<string, Buffer>();

/** OBJECT IDENTIFIER from dotted text, e.g. `2.5.29.17` (memoized: callers use a fixed set). */
export function derOid(dotted: string): Buffer {
  let der = OID_CACHE.get(dotted);
  if (der === undefined) {
    der = encodeOid(dotted);
    if (OID_CACHE.size < 1024) OID_CACHE.set(dotted, der);
  }
  return der;
}

function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`bad OID ${dotted}`);
    return Number(a);
  });
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || a > 2 || (a < 2 && b > 39))
    throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const group: number[] = [arc & 0x7f];
    let v = Math.floor(arc / 128);
    while (v > 0) {
      group.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...group);
  }
  return tlv(Tag.oid, Uint8Array.from(out));
}

/** BIT STRING with `unusedBits` unused bits in the last byte. */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(Tag.bitString, Uint8Array.of(unusedBits), bytes);
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.octetString, bytes);
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function derBoolean(value: boolean): Buffer {
  return tlv(Tag.boolean, Uint8Array.of(value ? 0xff : 0));
}

/** NULL. */
export const DER_NULL: Buffer = Buffer.from([Tag.null, 0]);

/** A string type (UTF8String, PrintableString, IA5String) of ASCII/UTF-8 text. */
export function derString(tag: number, text: string): Buffer {
  return tlv(tag, Buffer.from(text, 'utf8'));
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, always
 * in seconds with `Z`. Fractional seconds are dropped.
 */
export function derTime(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 9999) throw new RangeError(`time out of X.509 range: ${d.toISOString()}`);
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const rest =
    p2(d.getUTCMonth() + 1) +
    p2(d.getUTCDate()) +
    p2(d.getUTCHours()) +
    p2(d.getUTCMinutes()) +
    p2(d.getUTCSeconds()) +
    'Z';
  return y < 2050
    ? tlv(Tag.utcTime, Buffer.from(p2(y % 100) + rest, 'latin1'))
    : tlv(Tag.generalizedTime, Buffer.from(String(y) + rest, 'latin1'));
}
