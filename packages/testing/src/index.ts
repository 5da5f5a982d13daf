/** Test support for Parley's packages: peers, test CA, fake clock, temp dirs. */
import 'reflect-metadata';

export * from './peers.js';
export * from './postgres.js';
export * from './temp-dir.js';
export * from './test-ca.js';
export * from './vectors/load-vectors.js';
export * from './vectors/materialize.js';
export * from './go-spiffe-oracle.js';
export * from './daemon.js';
export * from './envoy.js';
