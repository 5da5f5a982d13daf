// A boolean formula over the request attributes Envoy's RBAC filter can test, rendered as the
// `Permission` or `Principal` tree of an RBAC policy. Headers and the path can be tested on either
// side; the destination port only in a permission; the peer certificate and the source address
// only in a principal.
import type { ProtoObject } from '@parley/api';

/** One test of a request attribute, as an RBAC matcher. */
export type RbacAtom =
  | { readonly kind: 'header'; readonly matcher: ProtoObject }
  | { readonly kind: 'path'; readonly matcher: ProtoObject }
  | { readonly kind: 'port'; readonly port: number }
  | { readonly kind: 'principal'; readonly matcher: ProtoObject }
  | { readonly kind: 'ip'; readonly cidr: ProtoObject };

/** A formula over RBAC atoms; `true`/`false` are constants. */
export type RbacExpr =
  | boolean
  | RbacAtom
  | { readonly kind: 'and' | 'or'; readonly items: readonly RbacExpr[] }
  | { readonly kind: 'not'; readonly item: RbacExpr };

/** The conjunction of `items`, simplified (constants folded, nested conjunctions flattened). */
export function and(...items: readonly RbacExpr[]): RbacExpr {
  const out: RbacExpr[] = [];
  for (const e of items) {
    if (e === false) return false;
    if (e === true) continue;
    if (typeof e === 'object' && e.kind === 'and') out.push(...e.items);
    else out.push(e);
  }
  return out.length === 0
    ? true
    : out.length === 1
      ? (out[0] as RbacExpr)
      : { kind: 'and', items: out };
}

/** The disjunction of `items`, simplified (constants folded, nested disjunctions flattened). */
export function or(...items: readonly RbacExpr[]): RbacExpr {
  const out: RbacExpr[] = [];
  for (const e of items) {
    if (e === true) return true;
    if (e === false) continue;
    if (typeof e === 'object' && e.kind === 'or') out.push(...e.items);
    else out.push(e);
  }
  return out.length === 0
    ? false
    : out.length === 1
      ? (out[0] as RbacExpr)
      : { kind: 'or', items: out };
}

/** The negation of `item`. */
export function not(item: RbacExpr): RbacExpr {
  if (typeof item === 'boolean') return !item;
  if (item.kind === 'not') return item.item;
  return { kind: 'not', item };
}

/** Which side of an RBAC policy can test a formula. */
export type RbacSide = 'either' | 'permission' | 'principal' | 'mixed';

/** The side that can test `e`: `mixed` when it tests both a port and the caller. */
export function sideOf(e: RbacExpr): RbacSide {
  if (typeof e === 'boolean') return 'either';
  switch (e.kind) {
    case 'header':
    case 'path':
      return 'either';
    case 'port':
      return 'permission';
    case 'principal':
    case 'ip':
      return 'principal';
    case 'not':
      return sideOf(e.item);
    case 'and':
    case 'or': {
      const sides = new Set(e.items.map(sideOf));
      sides.delete('either');
      if (sides.has('mixed') || sides.size > 1) return 'mixed';
      return sides.size === 0 ? 'either' : (sides.values().next().value as RbacSide);
    }
  }
}

/** `e` as an RBAC `Permission` (it must not test the caller). */
export function toPermission(e: RbacExpr): ProtoObject {
  if (e === true) return { any: true };
  if (e === false) return { not_rule: { any: true } };
  switch (e.kind) {
    case 'header':
      return { header: e.matcher };
    case 'path':
      return { url_path: e.matcher };
    case 'port':
      return { destination_port: e.port };
    case 'principal':
    case 'ip':
      throw new TypeError(`an RBAC permission cannot test ${e.kind}`);
    case 'not':
      return { not_rule: toPermission(e.item) };
    case 'and':
      return { and_rules: { rules: e.items.map(toPermission) } };
    case 'or':
      return { or_rules: { rules: e.items.map(toPermission) } };
  }
}

/** `e` as an RBAC `Principal` (it must not test the destination port). */
export function toPrincipal(e: RbacExpr): ProtoObject {
  if (e === true) return { any: true };
  if (e === false) return { not_id: { any: true } };
  switch (e.kind) {
    case 'header':
      return { header: e.matcher };
    case 'path':
      return { url_path: e.matcher };
    case 'principal':
      return { authenticated: { principal_name: e.matcher } };
    case 'ip':
      return { direct_remote_ip: e.cidr };
    case 'port':
      throw new TypeError('an RBAC principal cannot test the destination port');
    case 'not':
      return { not_id: toPrincipal(e.item) };
    case 'and':
      return { and_ids: { ids: e.items.map(toPrincipal) } };
    case 'or':
      return { or_ids: { ids: e.items.map(toPrincipal) } };
  }
}
