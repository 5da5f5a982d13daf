/** The mesh module: Git-backed intent compiled to xDS and served over ADS. */
export * from './snapshot/mesh-snapshot.js';
export * from './bootstrap/proxy-bootstrap.js';
export {
  createAdsService,
  ADS_MAX_RECEIVE_MESSAGE_BYTES,
  type AdsDeps,
  type SnapshotFeed,
  type ProxyAuthentication,
  type AdsStatusRegistry,
} from './ads/ads-service.js';
export { adsServiceDefinition } from './ads/ads-service-definition.js';
export {
  PUSH_ORDER,
  DEFAULT_ADS_LIMITS,
  type AdsLimits,
  type AdsStatusSink,
} from './ads/ads-stream.js';
export {
  GitSource,
  isRemoteRepository,
  DEFAULT_GIT_SOURCE_LIMITS,
  DEFAULT_GIT_POLL_INTERVAL,
  type GitCommit,
  type GitFile,
  type GitSourceLimits,
  type GitSourceOptions,
  type GitSourceDeps,
} from './source/git-source.js';
export {
  MeshController,
  type MeshControllerDeps,
  type CommitCandidate,
  type BuildResult,
  type EndpointsResult,
  type ConfigFile,
} from './controller/mesh-controller.js';
export { ProxyStatusRegistry, MAX_NACK_MESSAGE_CHARS } from './status/proxy-status-registry.js';
export {
  meshStatus,
  type MeshStatus,
  type ProxyStatus,
  type TypeStatus,
  type NackStatus,
  type NodeSummary,
  type AdsStreamKind,
  type ControllerStatus,
  type ConfigProblem,
} from './status/mesh-status.js';
export * from './model/mesh-config.js';
export * from './model/mesh-problem.js';
export * from './model/parse-mesh-config.js';
export { parseEndpoint, DEFAULT_OUTBOUND_PORT } from './model/read-service.js';
export * from './compile/compile-mesh.js';
export * from './compile/filters.js';
export * from './snapshot/render-proxy.js';
export { INBOUND_PATH_NORMALIZATION } from './compile/listeners.js';
export { controlPlaneCluster, serverTlsSocket } from './compile/clusters.js';
