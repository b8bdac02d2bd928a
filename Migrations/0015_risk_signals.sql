-- External risk signals (issue 15, item 4): what an EDR or a SIEM reports about a principal (`device_compromised`,
-- `credential_leaked`, ...), each with a severity and a lifetime. A signal is active from `received_at` until
-- `expires_at`, unless it was withdrawn first; rows are never deleted, so the history stays beside the audit chain.
-- The risk engine reads the active signals of one principal at decision time through the partial index.
CREATE TABLE risk_signals (
    id           uuid PRIMARY KEY,
    principal_id text NOT NULL CHECK (principal_id <> '' AND octet_length(principal_id) <= 256),
    -- A name in `risk.signals`; the built-in names are refused by the broker.
    signal       text NOT NULL CHECK (signal ~ '^[a-z][a-z0-9_]{0,62}$'),
    severity     text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    detail       text CHECK (detail IS NULL OR char_length(detail) <= 1000),
    -- The principal id of the caller that sent it (an admin or a `signals` token).
    source       text NOT NULL,
    received_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    withdrawn_at timestamptz,
    withdrawn_by text,
    CHECK (expires_at > received_at),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);

-- "The active signals of a principal": not withdrawn, not yet expired.
CREATE INDEX risk_signals_active ON risk_signals (principal_id, expires_at) WHERE withdrawn_at IS NULL;
-- The listing, newest first.
CREATE INDEX risk_signals_received ON risk_signals (received_at DESC, id DESC);
