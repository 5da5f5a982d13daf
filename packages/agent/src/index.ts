/** The node agent: attestation, entry sync, SVID cache and rotation, the SPIFFE Workload API. */
export * from './workload-api/index.js';
export * from './cache/cached-entry.js';
export * from './cache/svid-cache.js';
export * from './manager/agent-manager.js';
export * from './manager/agent-state.js';
export * from './server-client/server-client.js';
export * from './peer/listen-unix-grpc.js';
export * from './peer/peer-of.js';
export * from './peer/peer-credentials.js';
export * from './workload-attestor/workload-attestors.js';
export * from './workload-attestor/attest-caller.js';
export * from './workload-attestor/unix-attestor.js';
export * from './sds/sds-service.js';
export * from './sds/sds-secrets.js';
export * from './workload-sockets/socket-selector.js';
export * from './workload-sockets/serve-agent-socket.js';
export * from './workload-sockets/workload-sockets.js';
