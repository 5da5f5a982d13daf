import { invalidArgument, parseTrustDomain } from '@parley/core';

/** One demo service: its mesh Service name, its entry file under `dist/`, extra environment. */
export interface DemoService {
  readonly name: string;
  readonly main: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A demo's `demo.json`: what `parley up` runs and registers for it. */
export interface DemoManifest {
  readonly trustDomain: string;
  /** Each service's SPIFFE ID is `spiffe://<trustDomain><idPrefix><name>`. */
  readonly idPrefix: string;
  readonly services: readonly DemoService[];
  /** The edge proxy: its mesh Service (no endpoints) and its preferred front-end port. */
  readonly edge: { readonly service: string; readonly port: number };
  /** The traffic generator `--load` starts, when the demo has one. */
  readonly load: { readonly main: string } | undefined;
  /** Lines the summary shows about the demo (e.g. which store backs carts-db). */
  readonly notes: readonly string[];
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAIN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\.m?js$/;

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) {
    throw invalidArgument(
      `${what} must be ${pattern === undefined ? 'a string' : `like ${pattern.source}`}`,
    );
  }
  return value;
}

function mainFile(value: unknown, what: string): string {
  const main = text(value, what, MAIN);
  if (main.split('/').includes('..')) throw invalidArgument(`${what} must stay inside dist/`);
  return main;
}

/** Parses a demo manifest (`examples/<demo>/demo.json`); throws naming the first bad field. */
export function parseDemoManifest(json: string): DemoManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw invalidArgument('demo.json is not JSON');
  }
  const r = record(raw, 'demo.json');
  const trustDomain = parseTrustDomain(text(r['trustDomain'], 'trustDomain')).name;
  const idPrefix = text(r['idPrefix'], 'idPrefix', /^\/([A-Za-z0-9._-]+\/)*$/);
  if (!Array.isArray(r['services'])) throw invalidArgument('services must be a list');
  const names = new Set<string>();
  const services = r['services'].map((s: unknown, i) => {
    const item = record(s, `services[${i}]`);
    const name = text(item['name'], `services[${i}].name`, NAME);
    if (names.has(name)) throw invalidArgument(`services[${i}].name: "${name}" is repeated`);
    names.add(name);
    const env = record(item['env'] ?? {}, `services[${i}].env`);
    for (const [k, v] of Object.entries(env)) text(v, `services[${i}].env.${k}`);
    return {
      name,
      main: mainFile(item['main'], `services[${i}].main`),
      env: env as Record<string, string>,
    };
  });
  const edge = record(r['edge'], 'edge');
  const port = edge['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument('edge.port must be a port number');
  }
  const edgeService = text(edge['service'], 'edge.service', NAME);
  if (names.has(edgeService))
    throw invalidArgument(`edge.service "${edgeService}" is also a service`);
  const load = r['load'] === undefined ? undefined : record(r['load'], 'load');
  const notes = r['notes'] ?? [];
  if (!Array.isArray(notes) || notes.length > 16) throw invalidArgument('notes must be a list');
  return {
    trustDomain,
    idPrefix,
    services,
    edge: { service: edgeService, port },
    load: load === undefined ? undefined : { main: mainFile(load['main'], 'load.main') },
    notes: notes.map((n: unknown, i) => text(n, `notes[${i}]`)),
  };
}
