/** The authorization module: the policy model's evaluator, where a decision is a value. */
export * from './model/policy.js';
export * from './model/decision.js';
export { buildPolicySet } from './model/build-policy-set.js';
export { type EvaluateOptions, evaluateRequest } from './evaluate/evaluate-request.js';
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
export * from './model/decision-record.js';
export * from './model/authz-snapshot.js';
export * from './ext-authz/check-request.js';
export * from './ext-authz/check-service.js';
export * from './ext-authz/ext-authz-filter.js';
export {
  type StructLimits,
  StructError,
  structToJson,
  stringStruct,
} from './ext-authz/proto-struct.js';
export * from './distribution/policy-distribution-service.js';
export * from './distribution/watch-policies.js';
export * from './decision-log/access-log-decision.js';
export * from './decision-log/decision-log-service.js';
export {
  type DecodedJwt,
  type DecodedJwtResult,
  decodeJwt,
  MAX_JWT_LENGTH,
} from './jwt/decode-jwt.js';
export { type JwksResult, parseJwks, MAX_JWKS_BYTES } from './jwt/parse-jwks.js';
export {
  type EndUserJwt,
  type EndUserJwtIssuer,
  type EndUserJwtResult,
  JWT_CLOCK_SKEW_SECONDS,
  verifyEndUserJwt,
} from './jwt/verify-end-user-jwt.js';
export * from './envoy/jwt-authn-filter.js';
export * from './envoy/jwt-jwks-clusters.js';
export * from './replay/replay-decisions.js';
export * from './envoy/rbac-filters.js';
