import { readSecretPolicySpec, readTokenPolicySpec } from '@parley/api';
import type { ObjectReader } from '@parley/core';
import type {
  Metadata,
  SecretPolicyDocument,
  SourceRef,
  TokenPolicyDocument,
} from './mesh-config.js';

/** Reads a `SecretPolicy` document's `spec` (docs/secrets.md), its problems reported on `spec`. */
export function readSecretPolicy(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
): SecretPolicyDocument {
  return {
    kind: 'SecretPolicy',
    source,
    metadata,
    policy: readSecretPolicySpec(spec, metadata.name, 'mesh'),
  };
}

/** Reads a `TokenPolicy` document's `spec` (docs/tokens.md), its problems reported on `spec`. */
export function readTokenPolicy(
  spec: ObjectReader,
  metadata: Metadata,
  source: SourceRef,
): TokenPolicyDocument {
  return {
    kind: 'TokenPolicy',
    source,
    metadata,
    policy: readTokenPolicySpec(spec, metadata.name),
  };
}
