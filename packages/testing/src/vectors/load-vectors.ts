import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../peers.js';

/** The folder of SPIFFE conformance vectors (DESIGN §9). */
export const vectorsDir: string = join(repoRoot, 'packages', 'core', 'test', 'vectors');

/** Fields every vector case has. */
export interface VectorCase {
  readonly name: string;
  readonly section: string;
  /** Parley's expected verdict (the spec's). */
  readonly valid: boolean;
  /** go-spiffe's verdict where it legitimately differs from the spec's; absent when they agree. */
  readonly goSpiffe?: boolean;
  readonly note?: string;
}

/** A vector file: its source document, kind and cases (plus kind-specific defaults). */
export interface VectorFile<C extends VectorCase = VectorCase> {
  readonly source: string;
  readonly kind: string;
  readonly cases: readonly C[];
  readonly [extra: string]: unknown;
}

/** Reads one vector file by name, e.g. `spiffe-id.json`. */
export function loadVectors<C extends VectorCase>(file: string): VectorFile<C> {
  return JSON.parse(readFileSync(join(vectorsDir, file), 'utf8')) as VectorFile<C>;
}
