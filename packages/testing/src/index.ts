/** Test support for Parley's packages: peers, test CA, fake clock, temp dirs. */
import 'reflect-metadata';

export * from './peers.js';
export * from './postgres.js';
export * from './temp-dir.js';
