/** Strict base64url (RFC 7515 §2, RFC 4648 §5): no padding, no other characters. */
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes base64url, or returns undefined when the text is not canonical unpadded base64url. */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Reject non-canonical encodings (stray low bits in the last character).
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Encodes bytes as unpadded base64url. */
export function encodeBase64Url(bytes: Uint8Array | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes)).toString(
    'base64url',
  );
}
