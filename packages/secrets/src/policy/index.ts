export {
  type SecretAccessDecision,
  type SecretPolicySet,
  compileSecretPolicies,
  decideSecretAccess,
} from './decide-secret-access.js';
