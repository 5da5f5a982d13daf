import { ParleyError } from '@parley/core';
import { readFile, stat } from 'node:fs/promises';

/** Names by numeric id, parsed from an `/etc/passwd`- or `/etc/group`-format file. */
export type IdNames = ReadonlyMap<number, string>;

/**
 * Parses `/etc/passwd` or `/etc/group` text (`name:password:id:…`) into names by id. Comments,
 * blank and malformed lines and NIS `+`/`-` lines are skipped; the first name of an id wins, as
 * getpwuid(3) and getgrgid(3) answer.
 */
export function parseIdNames(text: string): IdNames {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) {
      continue;
    }
    const [name, , id] = line.split(':', 3);
    if (name === undefined || name === '' || id === undefined || !/^\d{1,10}$/.test(id)) continue;
    const n = Number(id);
    if (n > 0xffffffff || names.has(n)) continue;
    names.set(n, name);
  }
  return names;
}

/** Where the account files are; the system's by default. */
export interface UnixAccountFiles {
  readonly passwdPath?: string;
  readonly groupPath?: string;
}

/**
 * User and group names from the account files, parsed once and parsed again when a file changes
 * (its inode, size, modification or change time). Only the files are consulted, not NSS modules
 * such as LDAP: an id without a local name yields no name selector.
 */
export class UnixAccounts {
  readonly #users: CachedIdFile;
  readonly #groups: CachedIdFile;

  constructor(files: UnixAccountFiles = {}) {
    this.#users = new CachedIdFile(files.passwdPath ?? '/etc/passwd');
    this.#groups = new CachedIdFile(files.groupPath ?? '/etc/group');
  }

  /** The user name of `uid`, if the passwd file has one. */
  async userName(uid: number): Promise<string | undefined> {
    return (await this.#users.names()).get(uid);
  }

  /** The group name of `gid`, if the group file has one. */
  async groupName(gid: number): Promise<string | undefined> {
    return (await this.#groups.names()).get(gid);
  }
}

class CachedIdFile {
  #version = '';
  #names: Promise<IdNames> = Promise.resolve(new Map());

  constructor(readonly path: string) {}

  async names(): Promise<IdNames> {
    let version: string;
    try {
      const s = await stat(this.path, { bigint: true });
      version = `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch (error) {
      // No file, no names: a system without /etc/group still has uids and gids.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw new ParleyError('internal', `cannot read account file ${this.path}`, { cause: error });
    }
    if (version !== this.#version) {
      this.#version = version;
      this.#names = readFile(this.path, 'utf8').then(parseIdNames, (error: unknown) => {
        this.#version = '';
        throw new ParleyError('internal', `cannot read account file ${this.path}`, {
          cause: error,
        });
      });
    }
    return this.#names;
  }
}
