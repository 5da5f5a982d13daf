export * from './secret-types.js';
export { createSecretEngine } from './secret-engine.js';
