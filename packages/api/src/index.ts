/** Wire contracts: the SPIFFE Workload API today; Envoy xDS/SDS/ext_authz and Parley's own APIs next. */
export * from './workload/workload-api.js';
