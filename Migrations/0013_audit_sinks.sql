-- SIEM sinks (issue 14): how far each sink has written the audit chain, so that a broker that restarts, or another
-- replica that takes over, resumes after the last event written and nothing is lost or reordered. A sink is claimed
-- by one broker at a time for a short lease (`claimed_by`, `claimed_until`), renewed on every pass, so one replica
-- writes the sink while it lives and another takes over once the lease lapses; the cursor moves only after the
-- events are on disk.
CREATE TABLE audit_sinks (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.:-]{0,62}$'),
    -- The sequence of the last event written and synced (0: none yet; the sink starts at the chain's beginning).
    last_sequence bigint NOT NULL DEFAULT 0 CHECK (last_sequence >= 0),
    claimed_by    uuid,
    claimed_until timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);
