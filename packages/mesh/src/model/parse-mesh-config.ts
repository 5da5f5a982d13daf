import { type ConfigProblem, ObjectReader } from '@parley/core';
import { LineCounter, parseAllDocuments } from 'yaml';
import { type MeshDocument, checkMesh } from './check-mesh.js';
import { MESH_API_VERSION, MESH_KINDS, type MeshConfig, type MeshKind } from './mesh-config.js';
import type { MeshProblem } from './mesh-problem.js';
import { readAuthorizationPolicy } from './read-authorization-policy.js';
import { DOCUMENT_NAME, SERVICE_NAME, readMetadata } from './read-common.js';
import { readRoute } from './read-route.js';
import { readSecretPolicy, readTokenPolicy } from './read-module-policies.js';
import { readService } from './read-service.js';
import { readTrafficPolicy } from './read-traffic-policy.js';
import { lineOf } from './yaml-locate.js';

/** One file of a mesh config repository: its path relative to the repository root, and text. */
export interface MeshFile {
  readonly path: string;
  readonly text: string;
}

/** Bounds on the input of `parseMeshConfig` (hostile repositories cannot exhaust the server). */
export const MESH_CONFIG_LIMITS = {
  files: 10_000,
  fileBytes: 1 << 20,
  totalBytes: 64 << 20,
  documentsPerFile: 1_000,
  documents: 50_000,
  /** Problems reported before the rest are summarized. */
  problems: 1_000,
} as const;

/** The result of `parseMeshConfig`: a valid config, or every problem found. */
export type MeshConfigResult =
  | { readonly ok: true; readonly config: MeshConfig }
  | { readonly ok: false; readonly problems: readonly MeshProblem[] };

const byPosition = (a: MeshProblem, b: MeshProblem) =>
  a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line;

/**
 * Parses and validates a mesh config (DESIGN §5) from its files: strict schema per document, then
 * the checks that span documents. Pure (no I/O); reports every problem at once, each with file,
 * 1-based line and field path (STYLE rule 9).
 */
export function parseMeshConfig(files: readonly MeshFile[]): MeshConfigResult {
  const problems: MeshProblem[] = [];
  if (files.length > MESH_CONFIG_LIMITS.files) {
    return {
      ok: false,
      problems: [
        {
          file: '.',
          line: 0,
          path: '',
          message: `has ${files.length} files, more than ${MESH_CONFIG_LIMITS.files}`,
        },
      ],
    };
  }
  const docs: MeshDocument[] = [];
  const locate = new Map<MeshDocument, (path: string) => number>();
  const unreadServices = new Set<string>();
  let total = 0;
  let documents = 0;
  const sortedFiles = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sortedFiles) {
    const bytes = Buffer.byteLength(file.text, 'utf8');
    total += bytes;
    if (bytes > MESH_CONFIG_LIMITS.fileBytes) {
      problems.push({
        file: file.path,
        line: 0,
        path: '',
        message: `is larger than ${MESH_CONFIG_LIMITS.fileBytes} bytes`,
      });
      continue;
    }
    if (total > MESH_CONFIG_LIMITS.totalBytes) {
      problems.push({
        file: file.path,
        line: 0,
        path: '',
        message: `the config is larger than ${MESH_CONFIG_LIMITS.totalBytes} bytes in all`,
      });
      break;
    }
    const lines = new LineCounter();
    const parsed = parseAllDocuments(file.text, {
      lineCounter: lines,
      uniqueKeys: true,
      prettyErrors: true,
    });
    const all = Array.isArray(parsed) ? parsed : [];
    if (all.length > MESH_CONFIG_LIMITS.documentsPerFile) {
      problems.push({
        file: file.path,
        line: 0,
        path: '',
        message: `has ${all.length} documents, more than ${MESH_CONFIG_LIMITS.documentsPerFile}`,
      });
      continue;
    }
    for (const doc of all) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          problems.push({
            file: file.path,
            line: e.linePos?.[0].line ?? lines.linePos(e.pos[0]).line,
            path: '',
            message: `invalid YAML: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
          });
        }
        continue;
      }
      if (doc.contents === null) continue;
      if (++documents > MESH_CONFIG_LIMITS.documents) {
        problems.push({
          file: file.path,
          line: 0,
          path: '',
          message: `the config has more than ${MESH_CONFIG_LIMITS.documents} documents`,
        });
        break;
      }
      const at = (path: string) => lineOf(doc.contents, path, lines);
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (err) {
        problems.push({ file: file.path, line: at(''), path: '', message: (err as Error).message });
        continue;
      }
      const local: ConfigProblem[] = [];
      const read = readDocument(value, { file: file.path, line: at('kind') }, local);
      for (const p of local) {
        problems.push({ file: file.path, line: at(p.path), path: p.path, message: p.message });
      }
      // A document with problems still takes part in the checks that span documents (its own
      // problems are already reported), so a typo in one field does not cascade into "no such
      // Service" elsewhere.
      if (read !== undefined) {
        docs.push(read);
        locate.set(read, at);
      } else {
        const name = value as { kind?: unknown; metadata?: { name?: unknown } } | null;
        if (name?.kind === 'Service' && typeof name.metadata?.name === 'string') {
          unreadServices.add(name.metadata.name);
        }
      }
    }
  }
  const config = checkMesh(docs, unreadServices, (doc, path, message) => {
    problems.push({
      file: doc.source.file,
      line: locate.get(doc)?.(path) ?? doc.source.line,
      path,
      message,
    });
  });
  if (problems.length === 0) return { ok: true, config };
  problems.sort(byPosition);
  if (problems.length > MESH_CONFIG_LIMITS.problems) {
    const rest = problems.length - MESH_CONFIG_LIMITS.problems;
    problems.length = MESH_CONFIG_LIMITS.problems;
    problems.push({ file: '.', line: 0, path: '', message: `and ${rest} more problems` });
  }
  return { ok: false, problems };
}

function readDocument(
  value: unknown,
  source: { file: string; line: number },
  problems: ConfigProblem[],
): MeshDocument | undefined {
  const doc = new ObjectReader(value, '', problems);
  const apiVersion = doc.string('apiVersion');
  if (apiVersion !== undefined && apiVersion !== MESH_API_VERSION) {
    doc.problem('apiVersion', `must be ${MESH_API_VERSION}`);
  }
  const kind = doc.oneOf('kind', MESH_KINDS);
  if (kind === undefined) {
    // Without a kind the rest cannot be read; its keys are not reported as unknown.
    for (const key of ['metadata', 'spec']) doc.has(key);
    doc.reportUnknown();
    return undefined;
  }
  const metadata = readMetadata(
    doc.object('metadata'),
    doc,
    kind === 'Service' ? SERVICE_NAME : DOCUMENT_NAME,
    kind === 'Service'
      ? 'a DNS label (lower-case letters, digits and "-", at most 63)'
      : 'lower-case letters, digits, "-" and "." (at most 253)',
  );
  const spec = doc.object('spec');
  if (spec === undefined) doc.problem('spec', 'is required');
  let out: MeshDocument | undefined;
  if (spec !== undefined && metadata !== undefined) {
    out = read(kind, spec, metadata, source, problems);
  } else if (spec !== undefined) {
    // Read the spec anyway so that its problems are reported with the missing name.
    read(kind, spec, { name: '', labels: {} }, source, problems);
  }
  doc.reportUnknown();
  return out;
}

function read(
  kind: MeshKind,
  spec: ObjectReader,
  metadata: { name: string; labels: Readonly<Record<string, string>> },
  source: { file: string; line: number },
  problems: ConfigProblem[],
): MeshDocument | undefined {
  switch (kind) {
    case 'Service':
      return readService(spec, metadata, source, problems);
    case 'Route':
      return readRoute(spec, metadata, source, problems);
    case 'TrafficPolicy':
      return readTrafficPolicy(spec, metadata, source, problems);
    case 'AuthorizationPolicy':
      return readAuthorizationPolicy(spec, metadata, source);
    case 'SecretPolicy':
      return readSecretPolicy(spec, metadata, source);
    case 'TokenPolicy':
      return readTokenPolicy(spec, metadata, source);
  }
}
