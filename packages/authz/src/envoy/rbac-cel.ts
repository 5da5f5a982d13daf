// CEL conditions of RBAC policies (`google.api.expr.v1alpha1.Expr`, the parsed form Envoy
// evaluates) for what RBAC's matchers cannot say: lengths. Envoy's CEL has no comprehensions
// (`all`, `exists`) and no string extensions (`indexOf`, `split`); `size`, `matches` (small RE2
// regexes), `startsWith`, `endsWith`, `contains`, `in` and `type` work.
import type { ProtoObject } from '@parley/api';

/** A CEL expression under construction (`true`/`false` fold away). */
export type Cel = boolean | { readonly node: ProtoObject };

const node = (n: ProtoObject): Cel => ({ node: n });
const lit = (e: Cel): ProtoObject =>
  typeof e === 'boolean' ? { const_expr: { bool_value: e } } : e.node;

/** A string constant. */
export const celString = (s: string): Cel => node({ const_expr: { string_value: s } });
/** An integer constant. */
export const celInt = (n: number): Cel => node({ const_expr: { int64_value: String(n) } });
/** An identifier (an attribute root or a type name). */
export const celIdent = (name: string): Cel => node({ ident_expr: { name } });
/** `operand.field`. */
export const celSelect = (operand: Cel, field: string): Cel =>
  node({ select_expr: { operand: lit(operand), field } });

/** A call of a global function, or of a method on `target`. */
export function celCall(fn: string, args: readonly Cel[], target?: Cel): Cel {
  return node({
    call_expr: {
      ...(target !== undefined && { target: lit(target) }),
      function: fn,
      args: args.map(lit),
    },
  });
}

/** `size(x) > n`. */
export const celSizeOver = (x: Cel, n: number): Cel =>
  celCall('_>_', [celCall('size', [x]), celInt(n)]);

/** The conjunction of `items` (constants folded). */
export function celAnd(...items: readonly Cel[]): Cel {
  const rest = items.filter((e) => e !== true);
  if (rest.includes(false)) return false;
  if (rest.length === 0) return true;
  return rest.slice(1).reduce<Cel>((a, b) => celCall('_&&_', [a, b]), rest[0] as Cel);
}

/** The disjunction of `items` (constants folded). */
export function celOr(...items: readonly Cel[]): Cel {
  const rest = items.filter((e) => e !== false);
  if (rest.includes(true)) return true;
  if (rest.length === 0) return false;
  return rest.slice(1).reduce<Cel>((a, b) => celCall('_||_', [a, b]), rest[0] as Cel);
}

/** The finished expression, with the unique ids CEL's AST carries. */
export function celExpr(e: Cel): ProtoObject {
  let id = 0;
  const number = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(number);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    const isExpr = Object.keys(o).some((k) => k.endsWith('_expr'));
    const out: Record<string, unknown> = isExpr ? { id: String(++id) } : {};
    for (const [k, val] of Object.entries(o)) out[k] = number(val);
    return out;
  };
  return number(lit(e)) as ProtoObject;
}
