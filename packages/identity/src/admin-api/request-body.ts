import type { IncomingMessage } from 'node:http';
import { type JsonValue, JsonNumber, invalidArgument, parseJson } from '@parley/core';

/** The largest request body the admin API reads (1 MiB); a larger one is refused unread. */
export const MAX_BODY_BYTES = 1 << 20;

/** A JSON value as plain JavaScript: objects without prototype surprises, numbers as numbers. */
export type PlainJson =
  null | boolean | number | string | PlainJson[] | { [key: string]: PlainJson };

function plain(value: JsonValue): PlainJson {
  if (value instanceof JsonNumber) return value.toNumber();
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return (value as readonly JsonValue[]).map(plain);
  // Own data properties only: `__proto__` becomes a plain key, never the prototype.
  const out: { [key: string]: PlainJson } = Object.create(null) as { [key: string]: PlainJson };
  for (const [k, v] of value as ReadonlyMap<string, JsonValue>) {
    Object.defineProperty(out, k, { value: plain(v), enumerable: true, writable: true });
  }
  return out;
}

/**
 * Reads a request's JSON body: `application/json`, at most `MAX_BODY_BYTES`, UTF-8, parsed
 * strictly (duplicate keys, trailing text and deep nesting are errors) into plain values.
 */
export async function readJsonBody(
  req: IncomingMessage,
  maxBytes = MAX_BODY_BYTES,
): Promise<PlainJson> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw invalidArgument('the request body must be JSON (content-type: application/json)');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    throw invalidArgument(`the request body exceeds ${maxBytes} bytes`);
  }
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop reading: the response closes the connection (see `sendError`).
        req.off('data', onData);
        req.pause();
        reject(invalidArgument(`the request body exceeds ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalidArgument('the request body is not valid UTF-8');
  }
  return plain(parseJson(text, { maxLength: maxBytes }));
}
