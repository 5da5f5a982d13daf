import type { Dialect } from './dialect.js';

/** One schema change: applied once, in its own transaction, in id order. Never edit a shipped one. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  /** The statements to run, written once with the engine's types from `d`. */
  up(d: Dialect): readonly string[];
}

/** Every migration this build knows, in order; ids are 1, 2, 3, … */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'audit-chain',
    // DESIGN §6: each row carries the hash of the previous one; see audit/audit-event.ts.
    up: (d) => [
      `CREATE TABLE audit_events (
        seq ${d.bigint} PRIMARY KEY,
        at ${d.bigint} NOT NULL,
        module ${d.text} NOT NULL,
        action ${d.text} NOT NULL,
        subject ${d.text} NOT NULL,
        detail ${d.text} NOT NULL,
        prev_hash ${d.text} NOT NULL,
        hash ${d.text} NOT NULL
      )${d.tableOptions}`,
      ...d.appendOnly('audit_events'),
    ],
  },
  {
    id: 2,
    name: 'leases',
    up: (d) => [
      `CREATE TABLE leases (
        name ${d.text} PRIMARY KEY,
        holder ${d.text} NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
    ],
  },
  {
    id: 3,
    name: 'identity',
    // The identity server's data; see identity/ and the README. Times are ms, TTLs seconds,
    // flags 0/1, lists JSON text. Selector sets are stored twice: canonically on the row (read
    // with it in one statement) and one row per selector (to find rows by selector).
    up: (d) => [
      `CREATE TABLE registration_entries (
        id ${d.text} PRIMARY KEY,
        spiffe_id ${d.text} NOT NULL,
        parent_id ${d.text} NOT NULL,
        selectors ${d.text} NOT NULL,
        selectors_hash ${d.text} NOT NULL,
        x509_svid_ttl ${d.bigint} NOT NULL CHECK (x509_svid_ttl >= 0),
        jwt_svid_ttl ${d.bigint} NOT NULL CHECK (jwt_svid_ttl >= 0),
        dns_names ${d.text} NOT NULL,
        federates_with ${d.text} NOT NULL,
        hint ${d.text} NOT NULL,
        admin ${d.bigint} NOT NULL CHECK (admin IN (0, 1)),
        downstream ${d.bigint} NOT NULL CHECK (downstream IN (0, 1)),
        expires_at ${d.bigint},
        revision ${d.bigint} NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      // SPIRE's rule: no two entries with the same SPIFFE ID, parent ID and selector set.
      `CREATE UNIQUE INDEX registration_entries_identity
        ON registration_entries (spiffe_id, parent_id, selectors_hash)`,
      'CREATE INDEX registration_entries_parent_id ON registration_entries (parent_id)',
      `CREATE TABLE entry_selectors (
        entry_id ${d.text} NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
        type ${d.text} NOT NULL,
        value ${d.text} NOT NULL,
        PRIMARY KEY (entry_id, type, value)
      )${d.tableOptions}`,
      'CREATE INDEX entry_selectors_type_value ON entry_selectors (type, value)',
      // seq is allocated under the entries' lock, so events commit in seq order without gaps.
      `CREATE TABLE entry_events (
        seq ${d.bigint} PRIMARY KEY,
        entry_id ${d.text} NOT NULL,
        at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      'CREATE INDEX entry_events_at ON entry_events (at)',
      `CREATE TABLE attested_agents (
        spiffe_id ${d.text} PRIMARY KEY,
        attestation_type ${d.text} NOT NULL,
        selectors ${d.text} NOT NULL,
        cert_serial_number ${d.text} NOT NULL,
        cert_not_after ${d.bigint} NOT NULL,
        new_cert_serial_number ${d.text},
        new_cert_not_after ${d.bigint},
        banned ${d.bigint} NOT NULL CHECK (banned IN (0, 1)),
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      `CREATE TABLE node_selectors (
        spiffe_id ${d.text} NOT NULL REFERENCES attested_agents (spiffe_id) ON DELETE CASCADE,
        type ${d.text} NOT NULL,
        value ${d.text} NOT NULL,
        PRIMARY KEY (spiffe_id, type, value)
      )${d.tableOptions}`,
      'CREATE INDEX node_selectors_type_value ON node_selectors (type, value)',
      // Only the SHA-256 of a join token is stored, never the token.
      `CREATE TABLE join_tokens (
        token_hash ${d.text} PRIMARY KEY,
        spiffe_id ${d.text},
        expires_at ${d.bigint} NOT NULL,
        created_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      'CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at)',
      `CREATE TABLE bundles (
        trust_domain ${d.text} PRIMARY KEY,
        document ${d.text} NOT NULL,
        sequence_number ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      // Public halves only: private keys stay with the key manager.
      `CREATE TABLE ca_authorities (
        id ${d.text} PRIMARY KEY,
        kind ${d.text} NOT NULL CHECK (kind IN ('x509', 'jwt')),
        key_id ${d.text} NOT NULL,
        status ${d.text} NOT NULL
          CHECK (status IN ('prepared', 'active', 'old', 'tainted', 'revoked')),
        public_key ${d.blob} NOT NULL,
        certificate ${d.blob},
        not_before ${d.bigint} NOT NULL,
        not_after ${d.bigint} NOT NULL,
        upstream_chain ${d.text} NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        UNIQUE (kind, key_id),
        CHECK ((kind = 'x509' AND certificate IS NOT NULL)
          OR (kind = 'jwt' AND certificate IS NULL AND upstream_chain = '[]'))
      )${d.tableOptions}`,
    ],
  },
  {
    id: 4,
    name: 'audit-event-indexes',
    // Reading the chain back by module and action (listAuditEvents: `parley authz log`, `authz
    // diff`): newest first by seq, since a time, by subject (a request ID). Without them each
    // read scans the whole chain, which only grows.
    up: () => [
      'CREATE INDEX audit_events_module_action_seq ON audit_events (module, action, seq)',
      'CREATE INDEX audit_events_module_action_at ON audit_events (module, action, at)',
      'CREATE INDEX audit_events_module_action_subject ON audit_events (module, action, subject)',
    ],
  },
  {
    id: 5,
    name: 'secrets',
    // The secrets module (docs/secrets.md): one row per secret with its data key wrapped by a
    // key-encryption key, one row per version with its sealed value (NULL once destroyed); who
    // read which version (rotation); the hashes of login tokens; admin-API SecretPolicies.
    up: (d) => [
      `CREATE TABLE secrets (
        mount ${d.text} NOT NULL,
        path ${d.text} NOT NULL,
        current_version ${d.bigint} NOT NULL,
        oldest_version ${d.bigint} NOT NULL,
        max_versions ${d.bigint} NOT NULL,
        cas_required ${d.bigint} NOT NULL CHECK (cas_required IN (0, 1)),
        delete_version_after_ms ${d.bigint} NOT NULL,
        custom_metadata ${d.text} NOT NULL,
        kek_id ${d.text} NOT NULL,
        wrapped_data_key ${d.blob} NOT NULL,
        previous_version ${d.bigint},
        previous_valid_until ${d.bigint},
        pending_since ${d.bigint},
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        PRIMARY KEY (mount, path)
      )${d.tableOptions}`,
      'CREATE INDEX secrets_previous_valid_until ON secrets (previous_valid_until)',
      `CREATE TABLE secret_versions (
        mount ${d.text} NOT NULL,
        path ${d.text} NOT NULL,
        version ${d.bigint} NOT NULL,
        created_at ${d.bigint} NOT NULL,
        deletion_time ${d.bigint},
        destroyed ${d.bigint} NOT NULL CHECK (destroyed IN (0, 1)),
        sealed_value ${d.blob},
        PRIMARY KEY (mount, path, version),
        CHECK ((destroyed = 1 AND sealed_value IS NULL) OR (destroyed = 0 AND sealed_value IS NOT NULL))
      )${d.tableOptions}`,
      `CREATE TABLE secret_consumers (
        mount ${d.text} NOT NULL,
        path ${d.text} NOT NULL,
        version ${d.bigint} NOT NULL,
        spiffe_id ${d.text} NOT NULL,
        first_read_at ${d.bigint} NOT NULL,
        last_read_at ${d.bigint} NOT NULL,
        PRIMARY KEY (mount, path, version, spiffe_id)
      )${d.tableOptions}`,
      `CREATE TABLE secret_tokens (
        token_hash ${d.text} PRIMARY KEY,
        spiffe_id ${d.text} NOT NULL,
        created_at ${d.bigint} NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      'CREATE INDEX secret_tokens_expires_at ON secret_tokens (expires_at)',
      `CREATE TABLE secret_policies (
        name ${d.text} PRIMARY KEY,
        document ${d.text} NOT NULL,
        created_at ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
    ],
  },
  {
    id: 6,
    name: 'tokens',
    // The tokens module (docs/tokens.md): the OAuth signing keys of every server replica (public
    // JWK and schedule; the private key stays in that replica's key manager), and the ids of
    // revoked access tokens until they would have expired anyway.
    up: (d) => [
      `CREATE TABLE oauth_signing_keys (
        kid ${d.text} PRIMARY KEY,
        server_id ${d.text} NOT NULL,
        key_id ${d.text} NOT NULL,
        alg ${d.text} NOT NULL,
        public_jwk ${d.text} NOT NULL,
        active_from ${d.bigint} NOT NULL,
        active_until ${d.bigint} NOT NULL,
        published_until ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      'CREATE INDEX oauth_signing_keys_server ON oauth_signing_keys (server_id)',
      `CREATE TABLE oauth_revoked_tokens (
        jti ${d.text} PRIMARY KEY,
        client_id ${d.text} NOT NULL,
        revoked_at ${d.bigint} NOT NULL,
        expires_at ${d.bigint} NOT NULL
      )${d.tableOptions}`,
      'CREATE INDEX oauth_revoked_tokens_expires_at ON oauth_revoked_tokens (expires_at)',
    ],
  },
];

/** The schema version of this build: the id of its last migration. */
export const SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.id ?? 0;
