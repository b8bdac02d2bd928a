-- Security Event Tokens received from Shared Signals transmitters (issue 16): one row per SET accepted at
-- `POST /ssf/receive`, keyed by its transmitter and `jti`, so that a replayed SET is refused. A row is kept at least
-- until its SET would be refused as too old anyway (`replayable_until`: its `iat` plus the transmitter's maximum age
-- and the clock skew); older rows are pruned a few at a time by later receipts. The audit chain keeps the history.
CREATE TABLE ssf_received_sets (
    transmitter      text        NOT NULL CHECK (transmitter <> '' AND octet_length(transmitter) <= 1024),
    jti              text        NOT NULL CHECK (jti <> '' AND octet_length(jti) <= 256),
    event_type       text        NOT NULL CHECK (event_type <> '' AND octet_length(event_type) <= 1024),
    -- The principal the SET's subject maps to; null when it maps to none (or names no person, as verification).
    principal_id     text        CHECK (principal_id IS NULL OR (principal_id <> '' AND octet_length(principal_id) <= 256)),
    -- The risk signal it became, if it became one (inserted after this row, in the same transaction: the `jti` is
    -- claimed first, so a replay writes nothing).
    signal_id        uuid        REFERENCES risk_signals (id) DEFERRABLE INITIALLY DEFERRED,
    outcome          text        NOT NULL CHECK (outcome IN ('signal', 'verification', 'ignored')),
    issued_at        timestamptz NOT NULL,
    received_at      timestamptz NOT NULL,
    replayable_until timestamptz NOT NULL,
    PRIMARY KEY (transmitter, jti),
    CHECK ((outcome = 'signal') = (signal_id IS NOT NULL))
);

CREATE INDEX ssf_received_sets_prunable ON ssf_received_sets (replayable_until);
