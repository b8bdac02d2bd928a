-- Signed checkpoints of the audit chain (issue 14, part 6). A broker with a checkpoint key signs the chain's head
-- (sequence and hash) periodically and at shutdown, with an Ed25519 and an ML-DSA-65 key, and records it here and as
-- an `airlock.audit.checkpoint` event in the same transaction, so receivers of webhooks keep signed statements that
-- the chain reached that far: cutting the chain's tail, which the chain alone cannot show, is then detected.
--
-- Nothing wrote to the table of migration 0001 (no code signed checkpoints before this migration), so it is replaced
-- rather than altered. `time` is the signed text (RFC 3339 UTC with milliseconds), kept as signed; `signed_at` is the
-- same instant for queries. No foreign key to `audit_events`: the checkpoint must outlive a truncation it proves.

DROP TABLE audit_checkpoints;

CREATE TABLE audit_checkpoints (
    sequence          bigint PRIMARY KEY CHECK (sequence > 0),
    hash              text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    time              text NOT NULL,
    signed_at         timestamptz NOT NULL,
    ed25519_key_id    text NOT NULL CHECK (ed25519_key_id ~ '^ed25519:[0-9a-f]{16}$'),
    ed25519_signature bytea NOT NULL,
    mldsa65_key_id    text NOT NULL CHECK (mldsa65_key_id ~ '^mldsa65:[0-9a-f]{16}$'),
    mldsa65_signature bytea NOT NULL,
    -- The `airlock.audit.checkpoint` event that carried it.
    event_id          uuid NOT NULL UNIQUE
);
