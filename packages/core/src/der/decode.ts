import { invalidArgument } from '../errors.js';
import { Tag } from './encode.js';

/** One decoded TLV, pointing into the source bytes (views are made only when asked for). */
export class DerNode {
  constructor(
    readonly tag: number,
    private readonly bytes: Uint8Array,
    private readonly start: number,
    private readonly contentStart: number,
    private readonly end: number,
  ) {}

  /** The whole TLV (header and content). */
  get raw(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }

  /** The content octets. */
  get content(): Uint8Array {
    return this.bytes.subarray(this.contentStart, this.end);
  }
}

/** A plain Uint8Array view of `bytes`: its subarrays are far cheaper than a Buffer's. */
function plainView(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;
}

/**
 * Reads a run of DER TLVs strictly (X.690 §10): one-byte tags, definite minimal lengths, no
 * indefinite form, no trailing bytes unless the caller asks for them. `what` names the
 * structure in errors.
 */
export class DerReader {
  #pos = 0;
  private readonly bytes: Uint8Array;

  constructor(
    bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.bytes = plainView(bytes);
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.#pos >= this.bytes.length;
  }

  /** The tag of the next TLV without consuming it, or undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.bytes[this.#pos];
  }

  /** Reads the next TLV. */
  next(): DerNode {
    const b = this.bytes;
    const start = this.#pos;
    if (start + 2 > b.length) throw this.error('truncated');
    const tag = b[start] ?? 0;
    if ((tag & 0x1f) === 0x1f) throw this.error('multi-byte tags are not supported');
    let len = b[start + 1] ?? 0;
    let off = start + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) throw this.error('indefinite length is not DER');
      if (n > 4) throw this.error('length too large');
      if (off + n > b.length) throw this.error('truncated length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (b[off + i] ?? 0);
      if (len < 0x80 || (b[off] ?? 0) === 0) throw this.error('non-minimal length');
      off += n;
    }
    if (off + len > b.length) throw this.error('truncated content');
    this.#pos = off + len;
    return new DerNode(tag, b, start, off, off + len);
  }

  /** Reads the next TLV and checks its tag. */
  expect(tag: number, field: string): DerNode {
    const node = this.next();
    if (node.tag !== tag)
      throw this.error(
        `${field}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`,
      );
    return node;
  }

  /** Reads the next TLV if it has `tag`, else returns undefined. */
  optional(tag: number): DerNode | undefined {
    return this.peekTag() === tag ? this.next() : undefined;
  }

  /** Fails unless every byte was read. */
  end(): void {
    if (!this.done) throw this.error('trailing data');
  }

  /** An invalid-argument error naming the structure. */
  error(message: string): Error {
    return invalidArgument(`malformed ${this.what}: ${message}`);
  }
}

/** The children of a constructed node. */
export function derChildren(node: DerNode, what: string): DerReader {
  if ((node.tag & 0x20) === 0)
    throw invalidArgument(`malformed ${what}: expected a constructed value`);
  return new DerReader(node.content, what);
}

/** An INTEGER's unsigned magnitude; rejects non-minimal encodings and, unless allowed, negatives. */
export function derReadUnsigned(node: DerNode, what: string, allowNegative = false): Uint8Array {
  const c = node.content;
  if (node.tag !== Tag.integer || c.length === 0)
    throw invalidArgument(`malformed ${what}: expected an INTEGER`);
  if (
    c.length > 1 &&
    ((c[0] === 0 && ((c[1] ?? 0) & 0x80) === 0) || (c[0] === 0xff && ((c[1] ?? 0) & 0x80) !== 0))
  ) {
    throw invalidArgument(`malformed ${what}: non-minimal INTEGER`);
  }
  if (((c[0] ?? 0) & 0x80) !== 0 && !allowNegative)
    throw invalidArgument(`malformed ${what}: negative INTEGER`);
  return c[0] === 0 && c.length > 1 ? c.subarray(1) : c;
}

/** A small INTEGER as a number. */
export function derReadSmallInteger(node: DerNode, what: string): number {
  const m = derReadUnsigned(node, what);
  if (m.length > 4) throw invalidArgument(`malformed ${what}: INTEGER too large`);
  let v = 0;
  for (const byte of m) v = v * 256 + byte;
  return v;
}

const OID_TEXT = new Map<string, string>();

/** An OBJECT IDENTIFIER as dotted text (decoded OIDs are memoized by their bytes). */
export function derReadOid(node: DerNode, what: string): string {
  const c = node.content;
  if (node.tag !== Tag.oid || c.length === 0 || c.length > 64)
    throw invalidArgument(`malformed ${what}: expected an OID`);
  const key = String.fromCharCode(...c);
  let text = OID_TEXT.get(key);
  if (text === undefined) {
    text = decodeOid(c, what);
    if (OID_TEXT.size < 4096) OID_TEXT.set(key, text);
  }
  return text;
}

function decodeOid(c: Uint8Array, what: string): string {
  const arcs: number[] = [];
  let v = 0;
  let first = true;
  for (let i = 0; i < c.length; i++) {
    const byte = c[i] ?? 0;
    if (v === 0 && byte === 0x80) throw invalidArgument(`malformed ${what}: non-minimal OID arc`);
    v = v * 128 + (byte & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128)
      throw invalidArgument(`malformed ${what}: OID arc too large`);
    if ((byte & 0x80) === 0) {
      if (first) {
        const a = v < 40 ? 0 : v < 80 ? 1 : 2;
        arcs.push(a, v - a * 40);
        first = false;
      } else arcs.push(v);
      v = 0;
    } else if (i === c.length - 1) throw invalidArgument(`malformed ${what}: truncated OID`);
  }
  return arcs.join('.');
}

/** A BOOLEAN (DER: only 0x00 and 0xff). */
export function derReadBoolean(node: DerNode, what: string): boolean {
  const c = node.content;
  if (node.tag !== Tag.boolean || c.length !== 1 || (c[0] !== 0 && c[0] !== 0xff)) {
    throw invalidArgument(`malformed ${what}: expected a DER BOOLEAN`);
  }
  return c[0] === 0xff;
}

/** A BIT STRING's bytes and unused-bit count. */
export function derReadBitString(
  node: DerNode,
  what: string,
): { bytes: Uint8Array; unusedBits: number } {
  const c = node.content;
  const unused = c[0];
  if (
    node.tag !== Tag.bitString ||
    unused === undefined ||
    unused > 7 ||
    (c.length === 1 && unused !== 0)
  ) {
    throw invalidArgument(`malformed ${what}: expected a BIT STRING`);
  }
  return { bytes: c.subarray(1), unusedBits: unused };
}

/** An X.509 Time (RFC 5280 §4.1.2.5) as milliseconds since the epoch; seconds and `Z` required. */
export function derReadTime(node: DerNode, what: string): number {
  const c = node.content;
  const utc = node.tag === Tag.utcTime;
  const len = utc ? 13 : 15;
  if ((!utc && node.tag !== Tag.generalizedTime) || c.length !== len || c[len - 1] !== 0x5a) {
    throw invalidArgument(`malformed ${what}: expected a UTCTime or GeneralizedTime ending in Z`);
  }
  const digits = (from: number, count: number): number => {
    let v = 0;
    for (let i = from; i < from + count; i++) {
      const d = (c[i] ?? 0) - 0x30;
      if (d < 0 || d > 9) throw invalidArgument(`malformed ${what}: non-digit in time`);
      v = v * 10 + d;
    }
    return v;
  };
  let year: number;
  let pos: number;
  if (utc) {
    const yy = digits(0, 2);
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 §4.1.2.5.1
    pos = 2;
  } else {
    year = digits(0, 4);
    pos = 4;
  }
  const [mo, d, h, mi, s] = [
    digits(pos, 2),
    digits(pos + 2, 2),
    digits(pos + 4, 2),
    digits(pos + 6, 2),
    digits(pos + 8, 2),
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  date.setUTCHours(h, mi, s, 0);
  const ms = date.getTime();
  if (
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    new Date(ms).getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    throw invalidArgument(`malformed ${what}: invalid date`);
  }
  return ms;
}
