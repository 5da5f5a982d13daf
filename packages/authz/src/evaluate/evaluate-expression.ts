import type { Expression } from '../model/policy.js';

/** A value in an expression: a scalar, a list, absent (a missing attribute) or an error. */
export type ExpressionValue =
  string | number | boolean | readonly ExpressionValue[] | typeof ABSENT | ExpressionError;

/** The value of an attribute the request does not carry (a missing header, claim, attribute). */
export const ABSENT: unique symbol = Symbol('absent');

/** An evaluation error (ambiguous input, a type mismatch): never true, never silently false. */
export class ExpressionError {
  constructor(readonly message: string) {}
}

const isError = (v: ExpressionValue): v is ExpressionError => v instanceof ExpressionError;

/**
 * Evaluates an expression of the CEL subset to a value, reading attributes through `resolve`.
 * Errors propagate as in CEL, except that `false && error` is false and `true || error` true.
 */
export function evaluateExpression(
  e: Expression,
  resolve: (path: readonly string[]) => ExpressionValue,
): ExpressionValue {
  const ev = (x: Expression) => evaluateExpression(x, resolve);
  switch (e.op) {
    case 'literal':
      return e.value;
    case 'list': {
      const items = e.items.map(ev);
      return items.find(isError) ?? items;
    }
    case 'attribute':
      return resolve(e.path);
    case 'not': {
      const v = ev(e.arg);
      if (isError(v)) return v;
      return typeof v === 'boolean' ? !v : new ExpressionError('"!" needs a boolean');
    }
    case 'and':
    case 'or': {
      const l = ev(e.left);
      const r = ev(e.right);
      const short = e.op === 'or';
      if (l === short || r === short) return short;
      if (isError(l)) return l;
      if (isError(r)) return r;
      if (typeof l !== 'boolean' || typeof r !== 'boolean') {
        return new ExpressionError(`"${e.op === 'and' ? '&&' : '||'}" needs booleans`);
      }
      return !short;
    }
    case '==':
    case '!=': {
      const l = ev(e.left);
      const r = ev(e.right);
      if (isError(l)) return l;
      if (isError(r)) return r;
      const same = equal(l, r);
      return e.op === '==' ? same : !same;
    }
    case 'in': {
      const l = ev(e.left);
      const r = ev(e.right);
      if (isError(l)) return l;
      if (isError(r)) return r;
      if (r === ABSENT || l === ABSENT) return false;
      if (!Array.isArray(r)) return new ExpressionError('"in" needs a list on its right');
      return (r as readonly ExpressionValue[]).some((x) => equal(l, x));
    }
    case 'startsWith':
    case 'endsWith': {
      const t = ev(e.target);
      const a = ev(e.arg);
      if (isError(t)) return t;
      if (isError(a)) return a;
      if (t === ABSENT) return false;
      if (typeof t !== 'string' || typeof a !== 'string') {
        return new ExpressionError(`${e.op}() needs strings`);
      }
      return e.op === 'startsWith' ? t.startsWith(a) : t.endsWith(a);
    }
  }
}

function equal(a: ExpressionValue, b: ExpressionValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const x = a as readonly ExpressionValue[];
    const y = b as readonly ExpressionValue[];
    return x.length === y.length && x.every((v, i) => equal(v, y[i] as ExpressionValue));
  }
  return a === b;
}
