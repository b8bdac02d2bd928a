-- Brokers register themselves so a revocation can wait until every live broker has dropped the token.
--
-- Each broker keeps one row while it listens on `airlock_token_changes`: `seen_at` moves with every heartbeat (the
-- same transaction notifies the broker's own heartbeat, so a row that stops moving belongs to a broker whose caches
-- have stopped answering), `acknowledged` is the highest revocation barrier (`token_change_barriers`) it processed,
-- and `cache_window_ms` how long its caches answer without hearing its own heartbeat. A revoker that gave up waiting
-- sets `caches_off_until`: that broker's caches stay off until it has acknowledged that barrier.
CREATE TABLE broker_instances (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    seen_at          timestamptz NOT NULL DEFAULT now(),
    acknowledged     bigint NOT NULL DEFAULT 0,
    cache_window_ms  integer NOT NULL CHECK (cache_window_ms > 0),
    caches_off_until bigint
);
CREATE INDEX broker_instances_by_seen ON broker_instances (seen_at);

-- Revocation barriers: a revocation inserts one in its own transaction and notifies `sync NONCE` (delivered at
-- commit); a broker that processed the notification acknowledges the barrier's `id`. The nonce is random, so a
-- notification forged by another role cannot acknowledge a barrier before it exists.
CREATE TABLE token_change_barriers (
    id         bigserial PRIMARY KEY,
    nonce      uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX token_change_barriers_by_time ON token_change_barriers (created_at);

-- A new `alk_` token is announced too (payload `created`), so brokers forget the tokens they remember as unknown:
-- a token works at once on every broker, however recently someone tried it.
CREATE FUNCTION airlock_notify_token_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('airlock_token_changes', 'created');
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_tokens_created
    AFTER INSERT ON api_tokens
    FOR EACH ROW WHEN (NEW.kind = 'airlock')
    EXECUTE FUNCTION airlock_notify_token_created();

-- The reviewers Airlock has seen in each group (the "members known to Airlock" of a request's approvers), kept by
-- trigger so the lookup is an index range scan with a limit instead of a scan of every review ever made.
CREATE TABLE group_reviewers (
    group_name    text NOT NULL,
    reviewer_id   text NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (group_name, reviewer_id)
);

INSERT INTO group_reviewers (group_name, reviewer_id, last_seen_at)
SELECT g, approver_id, max(created_at) FROM approvals, unnest(groups) AS g GROUP BY g, approver_id;

CREATE FUNCTION airlock_remember_reviewer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO group_reviewers (group_name, reviewer_id, last_seen_at)
    SELECT DISTINCT g, NEW.approver_id, NEW.created_at FROM unnest(NEW.groups) AS g
    ON CONFLICT (group_name, reviewer_id)
        DO UPDATE SET last_seen_at = greatest(group_reviewers.last_seen_at, EXCLUDED.last_seen_at);
    RETURN NULL;
END;
$$;

CREATE TRIGGER approvals_remember_reviewer
    AFTER INSERT ON approvals
    FOR EACH ROW EXECUTE FUNCTION airlock_remember_reviewer();
