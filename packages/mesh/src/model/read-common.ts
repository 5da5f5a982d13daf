import { type ConfigProblem, ObjectReader } from '@parley/core';
import type { Metadata, PlainData, SocketAddress } from './mesh-config.js';

/** A DNS label: the name of a Service (a cluster name and a `Host`). */
export const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The name of any other document: lower-case words joined by `-` or `.`, at most 253. */
export const DOCUMENT_NAME = /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

/** An HTTP header name as Envoy accepts it in config (lower-case token). */
export const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_|~-]{1,128}$/;

/** The most list items read from one field (bounds work on hostile input). */
export const MAX_LIST = 1000;

/** Reads list items as objects, each with its indexed path, reporting unknown keys of each. */
export function readItems<T>(
  r: ObjectReader,
  key: string,
  problems: ConfigProblem[],
  read: (item: ObjectReader, index: number) => T | undefined,
): T[] {
  const out: T[] = [];
  const raw = r.raw(key);
  if (raw === undefined) return out;
  if (!Array.isArray(raw)) {
    r.problem(key, 'must be a list');
    return out;
  }
  if (raw.length > MAX_LIST) {
    r.problem(key, `has ${raw.length} items, more than ${MAX_LIST}`);
    return out;
  }
  raw.forEach((value, i) => {
    const item = new ObjectReader(value, `${prefix(r)}${key}[${i}]`, problems);
    const result = read(item, i);
    item.reportUnknown();
    if (result !== undefined) out.push(result);
  });
  return out;
}

/** Reads a list of strings, each checked by `check` (which returns a problem or undefined). */
export function readStrings(
  r: ObjectReader,
  key: string,
  check: (value: string) => string | undefined,
): string[] {
  const raw = r.raw(key);
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > MAX_LIST) {
    r.problem(key, `must be a list of at most ${MAX_LIST} strings`);
    return [];
  }
  const out: string[] = [];
  raw.forEach((v, i) => {
    const problem = typeof v === 'string' ? check(v) : 'must be a string';
    if (problem === undefined) out.push(v as string);
    else r.problem(`${key}[${i}]`, problem);
  });
  return out;
}

function prefix(r: ObjectReader): string {
  return r.path === '' ? '' : `${r.path}.`;
}

/** A string field that must match `pattern`; `what` explains the pattern in the message. */
export function patterned(
  r: ObjectReader,
  key: string,
  pattern: RegExp,
  what: string,
): string | undefined {
  if (!r.has(key)) {
    r.problem(key, 'is required');
    return undefined;
  }
  const v = r.raw(key);
  if (typeof v === 'string' && pattern.test(v)) return v;
  r.problem(key, `must be ${what}`);
  return undefined;
}

/** `metadata`: `name` (checked against `pattern`) and optional string `labels`. */
export function readMetadata(
  meta: ObjectReader | undefined,
  doc: ObjectReader,
  pattern: RegExp,
  what: string,
): Metadata | undefined {
  if (meta === undefined) {
    doc.problem('metadata', 'is required');
    return undefined;
  }
  const name = patterned(meta, 'name', pattern, what);
  const labels: Record<string, string> = {};
  const rawLabels = meta.raw('labels');
  if (rawLabels !== undefined) {
    if (typeof rawLabels !== 'object' || rawLabels === null || Array.isArray(rawLabels)) {
      meta.problem('labels', 'must be a map of strings');
    } else {
      for (const [k, v] of Object.entries(rawLabels as Record<string, unknown>)) {
        if (typeof v !== 'string' || k.length > 253 || v.length > 253) {
          meta.problem(`labels.${k.slice(0, 64)}`, 'must be a string of at most 253 characters');
        } else {
          labels[k] = v;
        }
      }
    }
  }
  return name === undefined ? undefined : { name, labels };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True when `host` is an IPv4 or IPv6 literal (IPv6 without brackets). */
export function isIpLiteral(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (!host.includes(':') || !/^[0-9a-fA-F:.]+$/.test(host)) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(host: string): boolean {
  return /^127\./.test(host) && IPV4.test(host) ? true : host === '::1';
}

/** Parses `host:port` (IPv6 as `[::1]:port`) with an IP literal host; throws on anything else. */
export function parseSocketAddress(text: string): SocketAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !isIpLiteral(host)) {
    throw new Error(`"${text.slice(0, 64)}" is not an IP:port address such as 127.0.0.1:8080`);
  }
  if (!(port >= 1 && port <= 65535)) throw new Error(`port ${m[3]} is not between 1 and 65535`);
  return { host, port };
}

/** Formats an address back as `host:port` (`[v6]:port`). */
export function formatSocketAddress(a: SocketAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A percentage field: a number from 0 to 100 with at most 4 decimals. */
export function percentage(r: ObjectReader, key: string, fallback?: number): number | undefined {
  if (!r.has(key)) {
    if (fallback === undefined) r.problem(key, 'is required');
    return fallback;
  }
  const v = r.raw(key);
  if (typeof v === 'number' && v >= 0 && v <= 100 && Math.round(v * 10000) === v * 10000) return v;
  r.problem(key, 'must be a number from 0 to 100 (at most 4 decimals)');
  return undefined;
}

/** Plain YAML data (no dates or binary), bounded in depth and size, or a problem. */
export function plainData(value: unknown, budget = { nodes: 10_000 }, depth = 0): PlainData {
  if (--budget.nodes < 0) throw new Error('is too large (more than 10000 values)');
  if (depth > 32) throw new Error('is nested more than 32 levels deep');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value)) return value.map((v) => plainData(v, budget, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, PlainData> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainData(v, budget, depth + 1);
    return out;
  }
  throw new Error('must be plain data (strings, numbers, booleans, lists and maps)');
}

/** A required integer field within [min, max]; undefined (with a problem) when absent or bad. */
export function requiredInteger(
  r: ObjectReader,
  key: string,
  min: number,
  max: number,
): number | undefined {
  if (!r.has(key)) {
    r.problem(key, 'is required');
    return undefined;
  }
  const v = r.integer(key, Number.NaN, min, max);
  return Number.isNaN(v) ? undefined : v;
}
