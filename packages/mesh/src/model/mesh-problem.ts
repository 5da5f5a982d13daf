/** One problem of a mesh config, located by file, 1-based line and field path. */
export interface MeshProblem {
  readonly file: string;
  /** 1-based; 0 when the problem concerns the file set as a whole. */
  readonly line: number;
  /** Field path inside the document, e.g. `spec.rules[0].destinations`; empty for the document. */
  readonly path: string;
  readonly message: string;
}

/** A problem as `parley mesh validate` prints it: `file:line: path: message`. */
export function formatMeshProblem(p: MeshProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}` : p.file;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}
