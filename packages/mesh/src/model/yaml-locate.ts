import { type LineCounter, type Node, isMap, isScalar, isSeq } from 'yaml';

/** The segments of a field path such as `spec.rules[0].destinations`. */
export function pathSegments(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (m === null) {
      out.push(part);
      continue;
    }
    if (m[1] !== undefined && m[1] !== '') out.push(m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/**
 * The 1-based line of the field at `path` in a YAML document: the line of its key (or list item);
 * for a field that is absent, the line of the deepest parent that exists.
 */
export function lineOf(contents: Node | null, path: string, lines: LineCounter): number {
  let node: unknown = contents;
  let offset = rangeStart(contents) ?? 0;
  for (const segment of pathSegments(path)) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? p.key.value : p.key) === segment && segment !== '',
      );
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return lines.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] } | null)?.range;
  return range?.[0];
}
