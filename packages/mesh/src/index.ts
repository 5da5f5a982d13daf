/** The mesh module: Git-backed intent compiled to xDS and served over ADS. */
export * from './snapshot/mesh-snapshot.js';
export * from './bootstrap/proxy-bootstrap.js';
