/** Wire contracts: the SPIFFE Workload API and Parley's agent API; Envoy xDS/SDS/ext_authz next. */
export * from './workload/workload-api.js';
export * from './agent/agent-api.js';
export * from './agent/x509pop.js';
export * from './grpc-status.js';
