/** Wire contracts: the SPIFFE Workload API, Parley's agent API, Envoy's xDS/SDS/ext_authz. */
export * from './workload/workload-api.js';
export * from './agent/agent-api.js';
export * from './agent/x509pop.js';
export * from './grpc-status.js';
export * from './xds/xds-protos.js';
export * from './xds/discovery-messages.js';
export * from './xds/proto-json.js';
export * from './authz/authorization-policy.js';
export * from './authz/policy-distribution.js';
export * from './secrets/secret-path.js';
export * from './secrets/secret-policy.js';
export * from './policy/policy-fields.js';
export * from './tokens/token-policy.js';
export * from './xds/sds-names.js';
export * from './http/listen-http.js';
