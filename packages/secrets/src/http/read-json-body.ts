import type { IncomingMessage } from 'node:http';
import { type JsonValue, JsonNumber, ParleyError, invalidArgument, parseJson } from '@parley/core';

function plain(value: JsonValue): unknown {
  if (value instanceof JsonNumber) return value.toNumber();
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return (value as readonly JsonValue[]).map(plain);
  // No prototype (a missing key never finds `constructor` & co.), own data properties only:
  // `__proto__` becomes a plain key, never the prototype.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of value as ReadonlyMap<string, JsonValue>) {
    Object.defineProperty(out, k, { value: plain(v), enumerable: true, writable: true });
  }
  return out;
}

/**
 * Reads a request's JSON body, at most `maxBytes` (refused unread when Content-Length says more),
 * parsed strictly (duplicate keys, trailing text and deep nesting are errors); undefined when the
 * body is empty.
 */
export async function readJsonBody(
  req: IncomingMessage,
  options: { readonly maxBytes: number },
): Promise<unknown> {
  const tooLarge = () =>
    new ParleyError('resource-exhausted', `the request body exceeds ${options.maxBytes} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > options.maxBytes) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalidArgument('the request body is not UTF-8');
  }
  try {
    return plain(parseJson(text));
  } catch (err) {
    throw invalidArgument(
      `the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`,
    );
  }
}
