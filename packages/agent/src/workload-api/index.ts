/** The SPIFFE Workload API of the agent: the gRPC service and the neighbours it needs. */
export { type WorkloadApiService, createWorkloadApiService } from './workload-api-service.js';
export type {
  CallerResult,
  Selector,
  WorkloadApiCall,
  WorkloadApiDeps,
  WorkloadApiLog,
  WorkloadIdentityCache,
  WorkloadJwtSvid,
  WorkloadView,
  WorkloadX509Svid,
} from './workload-api-deps.js';
export { GRPC_STATUS_BY_CODE, toGrpcStatus } from './grpc-status.js';
