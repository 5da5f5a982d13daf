import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type ObjectReader, ParleyError, readConfig } from '@parley/core';
import { parseDocument } from 'yaml';

/** Bounds a config file before parsing. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads a YAML config file strictly (duplicate keys are errors) and hands it to `read`, which
 * reports every problem at once with its field path (STYLE rule 9). Relative paths in the file are
 * resolved against the file's directory by `path()`.
 */
export async function loadConfigFile<T>(
  file: string,
  read: (root: ObjectReader, path: (p: string) => string) => T,
  what: string,
): Promise<Readonly<T>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ParleyError(
      'invalid-argument',
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (text.length > MAX_CONFIG_BYTES)
    throw new ParleyError('invalid-argument', `${what} ${file} exceeds 1 MiB`);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ParleyError(
      'invalid-argument',
      `invalid ${what} ${file}: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`,
    );
  }
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return readConfig(doc.toJS() as unknown, (root) => read(root, path), `${what} ${file}`);
}
