export {
  type PostgresRotator,
  type PostgresTarget,
  createPostgresRotator,
} from './postgres-rotator.js';
export { scramSha256Verifier } from './scram-verifier.js';
