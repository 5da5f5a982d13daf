import { invalidArgument } from '../errors.js';

/** One PEM block (RFC 7468): its label and DER content. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/** Encodes DER as a PEM block with 64-character lines (RFC 7468 §2). */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n([^-]*?)-----END ([A-Z0-9 ]{1,64})-----/g;
const BEGIN = /-----BEGIN /g;

/**
 * Decodes every PEM block in `text` (RFC 7468 §3, strict base64). Text between blocks is
 * ignored, as OpenSSL does; a block whose labels differ or whose body is not base64 is an error.
 */
export function decodePem(text: string, maxLength = 4 << 20): PemBlock[] {
  if (text.length > maxLength) throw invalidArgument(`PEM input exceeds ${maxLength} characters`);
  const blocks: PemBlock[] = [];
  const begins = text.match(BEGIN)?.length ?? 0;
  for (const m of text.matchAll(BLOCK)) {
    const [, label = '', body = '', endLabel] = m;
    if (label !== endLabel) throw invalidArgument(`PEM block "${label}" ends with "${endLabel}"`);
    const b64 = body.replace(/[\r\n\t ]/g, '');
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) {
      throw invalidArgument(`PEM block "${label}" is not valid base64`);
    }
    blocks.push({ label, der: Buffer.from(b64, 'base64') });
  }
  // Every BEGIN must open a well-formed block: a corrupt one is an error, never skipped.
  if (blocks.length !== begins)
    throw invalidArgument('malformed PEM: a block has no matching END line or a non-base64 body');
  return blocks;
}

/** The DER contents of every block with `label` (e.g. all CERTIFICATE blocks), in order. */
export function decodePemBlocks(text: string, label: string): Uint8Array[] {
  return decodePem(text)
    .filter((b) => b.label === label)
    .map((b) => b.der);
}
