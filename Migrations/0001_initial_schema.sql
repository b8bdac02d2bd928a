-- Airlock's first schema: the whole lifecycle of BRIEF.md.
-- Applied by `airlock migrate` (or `airlock serve --migrate`) in one transaction.
-- Frozen once released: change the schema with a new numbered file, never by editing this one.

-- Wrapped data keys of envelope encryption. The key-encryption key (KEK) lives outside the database;
-- `kek_id` names the KEK that wrapped each data key, so `airlock keys rotate` can rewrap them.
CREATE TABLE data_keys (
    id          uuid PRIMARY KEY,
    kek_id      text NOT NULL CHECK (kek_id ~ '^kek_[0-9a-f]{16}$'),
    wrapped     bytea NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz
);
CREATE INDEX data_keys_by_kek ON data_keys (kek_id);
-- At most one data key encrypts new secrets at a time.
CREATE UNIQUE INDEX data_keys_one_active ON data_keys (active) WHERE active;

-- Resources that can be requested: a PostgreSQL database or a token audience.
-- `admin_secret` is an envelope-encrypted ciphertext (table resources, row id, column admin_secret).
CREATE TABLE resources (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    kind         text NOT NULL CHECK (kind IN ('postgres', 'token')),
    env          text NOT NULL,
    owner        text NOT NULL DEFAULT '',
    sensitivity  integer NOT NULL DEFAULT 0 CHECK (sensitivity BETWEEN 0 AND 10),
    tags         text[] NOT NULL DEFAULT '{}',
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
    connection   jsonb NOT NULL DEFAULT '{}'::jsonb,
    roles        jsonb NOT NULL DEFAULT '{}'::jsonb,
    admin_secret bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every policy set that was loaded (or rejected), so a decision names the exact policy it was made under.
CREATE TABLE policy_sets (
    id          uuid PRIMARY KEY,
    digest      text NOT NULL,
    files       jsonb NOT NULL,
    status      text NOT NULL CHECK (status IN ('loaded', 'rejected')),
    diagnostics jsonb NOT NULL DEFAULT '[]'::jsonb,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_sets_by_time ON policy_sets (loaded_at DESC);

-- Access requests. `evaluation_input` is the complete input the policy saw (principal, resource, request,
-- risk), so `airlock policy replay` can re-decide the request under another policy set.
CREATE TABLE access_requests (
    id                  uuid PRIMARY KEY,
    principal_id        text NOT NULL,
    principal_kind      text NOT NULL CHECK (principal_kind IN ('user', 'service')),
    resource_id         text NOT NULL REFERENCES resources (id),
    role                text NOT NULL,
    ttl_seconds         integer NOT NULL CHECK (ttl_seconds > 0),
    reason              text NOT NULL DEFAULT '',
    ticket              text,
    break_glass         boolean NOT NULL DEFAULT false,
    source_ip           inet,
    status              text NOT NULL CHECK (status IN
                            ('pending_approval', 'approved', 'issued', 'denied', 'expired')),
    decision            jsonb NOT NULL,
    evaluation_input    jsonb NOT NULL,
    policy_set_id       uuid REFERENCES policy_sets (id),
    granted_ttl_seconds integer CHECK (granted_ttl_seconds > 0),
    created_at          timestamptz NOT NULL,
    decided_at          timestamptz,
    decision_deadline   timestamptz,
    pickup_deadline     timestamptz,
    closed_at           timestamptz,
    CHECK (status <> 'pending_approval' OR decision_deadline IS NOT NULL),
    CHECK (status <> 'approved' OR pickup_deadline IS NOT NULL)
);
CREATE INDEX access_requests_by_principal ON access_requests (principal_id, created_at DESC);
CREATE INDEX access_requests_pending ON access_requests (decision_deadline) WHERE status = 'pending_approval';
CREATE INDEX access_requests_awaiting_pickup ON access_requests (pickup_deadline) WHERE status = 'approved';
CREATE INDEX access_requests_by_time ON access_requests (created_at);

-- Approvals and denials by reviewers. One review per person per request; the requester never reviews.
CREATE TABLE approvals (
    id          uuid PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES access_requests (id),
    approver_id text NOT NULL,
    verdict     text NOT NULL CHECK (verdict IN ('approve', 'deny')),
    groups      text[] NOT NULL DEFAULT '{}',
    comment     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    UNIQUE (request_id, approver_id)
);

-- Leases: one per issued credential. The row is written first (status 'issuing', the intent), then the
-- provider mints, then the row becomes 'active'. The reconciler finishes or undoes anything left 'issuing'.
CREATE TABLE leases (
    id              uuid PRIMARY KEY,
    request_id      uuid NOT NULL UNIQUE REFERENCES access_requests (id),
    principal_id    text NOT NULL,
    resource_id     text NOT NULL REFERENCES resources (id),
    role            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('postgres', 'token')),
    username        text CHECK (username ~ '^[a-z0-9_]{1,63}$'),
    token_id        uuid,
    status          text NOT NULL CHECK (status IN ('issuing', 'active', 'revoking', 'revoked', 'expired')),
    issued_at       timestamptz,
    expires_at      timestamptz NOT NULL,
    max_expires_at  timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    CHECK (expires_at <= max_expires_at)
);
CREATE INDEX leases_due_for_expiry ON leases (expires_at) WHERE status = 'active';
CREATE INDEX leases_due_for_revocation ON leases (next_attempt_at) WHERE status = 'revoking';
CREATE INDEX leases_issuing ON leases (created_at) WHERE status = 'issuing';
CREATE INDEX leases_by_principal ON leases (principal_id) WHERE status IN ('issuing', 'active', 'revoking');
CREATE UNIQUE INDEX leases_username ON leases (username) WHERE username IS NOT NULL;

-- Airlock's own API tokens (`alk_...`) and the credential tokens it mints (`alkc_...`).
-- Only a hash of each token is stored.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('airlock', 'credential')),
    name         text NOT NULL DEFAULT '',
    token_hash   bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL DEFAULT '{}',
    groups       text[] NOT NULL DEFAULT '{}',
    audience     text,
    subject      text,
    lease_id     uuid REFERENCES leases (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK (kind <> 'credential' OR lease_id IS NOT NULL)
);

-- External and computed risk signals, and per-principal baselines.
CREATE TABLE risk_signals (
    id           uuid PRIMARY KEY,
    principal_id text NOT NULL,
    signal       text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    source       text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX risk_signals_live ON risk_signals (principal_id, expires_at);

CREATE TABLE principal_baselines (
    principal_id text PRIMARY KEY,
    baseline     jsonb NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- The audit log. Writers insert events with `sequence` NULL inside their own transaction; the single
-- chainer then links committed events into the chain: sequence (gap-free, from 1), prevhash and hash =
-- SHA-256(prevhash || event), where `event` is the RFC 8785 canonical JSON of the CloudEvent (without
-- sequence, prevhash and hash), stored as text so its bytes never change (jsonb would reorder keys).
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    ingest_id   bigserial NOT NULL UNIQUE,
    type        text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    severity    text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    occurred_at timestamptz NOT NULL,
    event       text NOT NULL,
    sequence    bigint UNIQUE CHECK (sequence > 0),
    prevhash    text CHECK (prevhash ~ '^[0-9a-f]{64}$'),
    hash        text UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    chained_at  timestamptz,
    CHECK ((sequence IS NULL) = (hash IS NULL) AND (sequence IS NULL) = (prevhash IS NULL))
);
CREATE INDEX audit_events_unchained ON audit_events (ingest_id) WHERE sequence IS NULL;
CREATE INDEX audit_events_by_type ON audit_events (type, sequence);

-- Signed checkpoints of the chain (they catch truncation of its tail).
CREATE TABLE audit_checkpoints (
    sequence   bigint PRIMARY KEY,
    hash       text NOT NULL,
    key_id     text NOT NULL,
    signature  bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- Webhook endpoints; `secret` is the envelope-encrypted `whsec_...` signing key
-- (table webhook_endpoints, row id, column secret).
CREATE TABLE webhook_endpoints (
    id             uuid PRIMARY KEY,
    url            text NOT NULL,
    event_types    text[] NOT NULL DEFAULT '{}',
    channels       text[] NOT NULL DEFAULT '{}',
    min_severity   text NOT NULL DEFAULT 'info'
                       CHECK (min_severity IN ('info', 'low', 'medium', 'high', 'critical')),
    secret         bytea NOT NULL,
    delivered_through bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    deleted_at     timestamptz
);

-- One delivery of one chained audit event to one endpoint: at least once, retried with backoff,
-- dead-lettered after the configured attempts. Claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_sequence   bigint NOT NULL REFERENCES audit_events (sequence),
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    UNIQUE (endpoint_id, event_sequence)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
