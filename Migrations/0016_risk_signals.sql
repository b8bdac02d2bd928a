-- External risk signals (issue 15, item 4): what an EDR or a SIEM reports about a principal (`device_compromised`,
-- `credential_leaked`, ...), each with a severity and a lifetime. A signal is active from `received_at` until
-- `expires_at`, unless it was withdrawn first; rows are never deleted, so the history stays beside the audit chain.
-- The risk engine reads the active signals of one principal at decision time through the partial index.
--
-- Migration 0001 reserved the table; nothing has written to it, but it is altered rather than replaced so that no
-- row could be lost: `created_at` becomes `received_at`, and the detail, the withdrawal and the checks are added.
ALTER TABLE risk_signals RENAME COLUMN created_at TO received_at;

ALTER TABLE risk_signals
    -- What the sender said about it (free text from another tool; never logged).
    ADD COLUMN detail       text CHECK (detail IS NULL OR char_length(detail) <= 1000),
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawn_by text,
    ADD CONSTRAINT risk_signals_principal CHECK (principal_id <> '' AND octet_length(principal_id) <= 256),
    -- A name in `risk.signals`; the broker also refuses the built-in names.
    ADD CONSTRAINT risk_signals_name CHECK (signal ~ '^[a-z][a-z0-9_]{0,62}$'),
    ADD CONSTRAINT risk_signals_lifetime CHECK (expires_at > received_at),
    ADD CONSTRAINT risk_signals_withdrawal CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL));

-- "The active signals of a principal": not withdrawn, not yet expired.
DROP INDEX risk_signals_live;
CREATE INDEX risk_signals_active ON risk_signals (principal_id, expires_at) WHERE withdrawn_at IS NULL;
-- The listing, newest first.
CREATE INDEX risk_signals_received ON risk_signals (received_at DESC, id DESC);
