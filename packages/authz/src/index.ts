/** The authorization module: the policy model's evaluator, where a decision is a value. */
export * from './model/policy.js';
export * from './model/decision.js';
export { buildPolicySet } from './model/build-policy-set.js';
export { evaluateRequest } from './evaluate/evaluate-request.js';
export { type NormalizedPath, normalizePath } from './evaluate/normalize-path.js';
export { type NormalizedHost, normalizeHost } from './evaluate/normalize-host.js';
export {
  type MatchMode,
  matchString,
  matchPath,
  matchHost,
  parseIpBytes,
  inCidr,
} from './evaluate/match-patterns.js';
export {
  type ExpressionValue,
  ABSENT,
  ExpressionError,
  evaluateExpression,
} from './evaluate/evaluate-expression.js';
