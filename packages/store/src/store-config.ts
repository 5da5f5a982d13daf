import { readConfig } from '@parley/core';

/** Where the store lives: an SQLite file (the embedded default) or a PostgreSQL database. */
export type StoreConfig =
  { readonly sqlite: { readonly path: string } } | { readonly postgres: { readonly url: string } };

function nonEmpty(text: string): string {
  if (text === '') throw new Error('must not be empty');
  return text;
}

function postgresUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The URL is not echoed: it may carry a password.
    throw new Error('must be a URL such as postgres://user@host:5432/parley');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`must be a postgres:// or postgresql:// URL, not ${url.protocol}//`);
  }
  if (url.hostname === '') throw new Error('must name a host');
  return text;
}

/**
 * Parses a store config strictly: exactly one of `sqlite` or `postgres`, no unknown keys; every
 * problem is reported at once with its path, in a ConfigError.
 */
export function parseStoreConfig(value: unknown): StoreConfig {
  return readConfig<StoreConfig>(
    value,
    (root) => {
      const sqlite = root.object('sqlite');
      const path = sqlite?.parsed('path', nonEmpty);
      const postgres = root.object('postgres');
      const url = postgres?.parsed('url', postgresUrl);
      if (sqlite !== undefined && postgres !== undefined) {
        root.problem('', 'must have only one of sqlite, postgres');
      }
      if (path !== undefined) return { sqlite: { path } };
      if (url !== undefined) return { postgres: { url } };
      if (sqlite === undefined && postgres === undefined) {
        root.problem('', 'must have one of sqlite, postgres');
      }
      return { sqlite: { path: '' } };
    },
    'store config',
  );
}
