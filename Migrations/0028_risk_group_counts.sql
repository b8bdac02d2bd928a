-- Peers counted from running totals per group (issue 15: the score "cheap"; the peers of a principal in a large
-- group were counted by reading up to 1000 entries of its index, about 0.3 ms more for a group of 2,000 than for one
-- of 50, and capped at 1000).
--
-- `risk_group_member_counts` and `risk_group_holder_counts` hold changes (+1 for a member or a holder added, -1 for
-- one removed), written by triggers in the transaction that adds them; a group's count is the sum of its rows. Only
-- inserts: a request never waits on, or locks, a row another request touches, so two requests of different people
-- joining one group neither wait for each other nor deadlock (a single counter row per group would be locked by each
-- new member until its transaction ends, and the triggers take those rows in orders that two transactions can
-- cross). The changes of a group are folded into one row when it has 9 or more: the folding transaction takes the
-- rows with `FOR UPDATE SKIP LOCKED` (never waiting, so never deadlocking), deletes them and inserts their sum, so a
-- change is counted once whichever transaction folds it, and another transaction's uncommitted change (invisible to
-- it) is left for later. A count is exact in every snapshot, and a group's rows stay few.
--
-- A principal in one group now has exact counts, however large the group (no cap at 1000); the several-groups case
-- keeps its distinct count up to 1000 (`airlock_risk_peer_counts`), which uses the totals too when there is one group.

CREATE TABLE risk_group_member_counts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_name  text NOT NULL,
    members     integer NOT NULL
);
CREATE INDEX risk_group_member_counts_by_group ON risk_group_member_counts (group_name) INCLUDE (members);

CREATE TABLE risk_group_holder_counts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_name   text NOT NULL,
    resource_id  text NOT NULL,
    holders      integer NOT NULL
);
CREATE INDEX risk_group_holder_counts_by_group ON risk_group_holder_counts (group_name, resource_id) INCLUDE (holders);

INSERT INTO risk_group_member_counts (group_name, members)
SELECT group_name, count(*) FROM risk_group_members GROUP BY group_name;
INSERT INTO risk_group_holder_counts (group_name, resource_id, holders)
SELECT group_name, resource_id, count(*) FROM risk_group_grants GROUP BY group_name, resource_id;

-- Folds a group's member changes into one row once there are 9 or more (see above).
CREATE FUNCTION airlock_risk_member_counts_fold(counted_group text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    total   bigint;
    taken   bigint;
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM risk_group_member_counts c WHERE c.group_name = counted_group LIMIT 9)
        AS change) < 9 THEN
        RETURN;
    END IF;
    WITH folded AS (
        DELETE FROM risk_group_member_counts WHERE id IN (
            SELECT c.id FROM risk_group_member_counts c WHERE c.group_name = counted_group FOR UPDATE SKIP LOCKED)
        RETURNING members)
    SELECT sum(members), count(*) INTO total, taken FROM folded;
    IF taken > 0 THEN
        INSERT INTO risk_group_member_counts (group_name, members) VALUES (counted_group, total);
    END IF;
END;
$$;

-- The same for the holders of one resource in a group.
CREATE FUNCTION airlock_risk_holder_counts_fold(counted_group text, counted_resource text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    total   bigint;
    taken   bigint;
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM risk_group_holder_counts c
                              WHERE c.group_name = counted_group AND c.resource_id = counted_resource LIMIT 9)
        AS change) < 9 THEN
        RETURN;
    END IF;
    WITH folded AS (
        DELETE FROM risk_group_holder_counts WHERE id IN (
            SELECT c.id FROM risk_group_holder_counts c
            WHERE c.group_name = counted_group AND c.resource_id = counted_resource FOR UPDATE SKIP LOCKED)
        RETURNING holders)
    SELECT sum(holders), count(*) INTO total, taken FROM folded;
    IF taken > 0 THEN
        INSERT INTO risk_group_holder_counts (group_name, resource_id, holders)
        VALUES (counted_group, counted_resource, total);
    END IF;
END;
$$;

CREATE FUNCTION airlock_risk_member_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO risk_group_member_counts (group_name, members) VALUES (NEW.group_name, 1);
        PERFORM airlock_risk_member_counts_fold(NEW.group_name);
    ELSE
        INSERT INTO risk_group_member_counts (group_name, members) VALUES (OLD.group_name, -1);
        PERFORM airlock_risk_member_counts_fold(OLD.group_name);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION airlock_risk_holder_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO risk_group_holder_counts (group_name, resource_id, holders) VALUES (NEW.group_name, NEW.resource_id, 1);
        PERFORM airlock_risk_holder_counts_fold(NEW.group_name, NEW.resource_id);
    ELSE
        INSERT INTO risk_group_holder_counts (group_name, resource_id, holders) VALUES (OLD.group_name, OLD.resource_id, -1);
        PERFORM airlock_risk_holder_counts_fold(OLD.group_name, OLD.resource_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER risk_group_members_counted
    AFTER INSERT OR DELETE ON risk_group_members
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_member_counted();

CREATE TRIGGER risk_group_grants_counted
    AFTER INSERT OR DELETE ON risk_group_grants
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_holder_counted();

-- As in 0027, for one group or several.
CREATE OR REPLACE FUNCTION airlock_risk_peer_counts(principal text, principal_groups text[], resource text) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    counted bigint;
    holders bigint;
BEGIN
    IF cardinality(principal_groups) = 1 THEN
        RETURN ARRAY[
            coalesce((SELECT sum(c.members) FROM risk_group_member_counts c WHERE c.group_name = principal_groups[1]), 0)
            - (EXISTS (SELECT 1 FROM risk_group_members m
                       WHERE m.group_name = principal_groups[1] AND m.principal_id = principal))::int,
            coalesce((SELECT sum(c.holders) FROM risk_group_holder_counts c
                      WHERE c.group_name = principal_groups[1] AND c.resource_id = resource), 0)
            - (EXISTS (SELECT 1 FROM risk_group_grants gg WHERE gg.group_name = principal_groups[1]
                         AND gg.resource_id = resource AND gg.principal_id = principal))::int];
    END IF;
    SELECT count(*) INTO counted FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
                                       WHERE m.group_name = ANY(principal_groups) AND m.principal_id <> principal
                                       LIMIT 1000) AS peer;
    IF counted < 1000 THEN
        SELECT count(*) INTO holders FROM (SELECT DISTINCT gg.principal_id FROM risk_group_grants gg
                                           WHERE gg.group_name = ANY(principal_groups) AND gg.resource_id = resource
                                             AND gg.principal_id <> principal) AS holder;
    ELSE
        -- The peers counted are the first 1000 by name, and the holders are counted among them.
        SELECT count(*) INTO holders
        FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
              WHERE m.group_name = ANY(principal_groups) AND m.principal_id <> principal
              ORDER BY m.principal_id LIMIT 1000) AS peer
        WHERE EXISTS (SELECT 1 FROM risk_group_grants gg WHERE gg.group_name = ANY(principal_groups)
                        AND gg.resource_id = resource AND gg.principal_id = peer.principal_id);
    END IF;
    RETURN ARRAY[counted, holders];
END;
$$;

-- As in 0027, with a principal in one group counted from the totals.
CREATE OR REPLACE FUNCTION airlock_risk_baseline(
    principal text, resource text, burst_since timestamptz, activations_since timestamptz, at timestamptz,
    requested_role text, hours_since timestamptz, source_ip text, principal_groups text[], hour_of_week integer)
RETURNS TABLE (
    first_request_at timestamptz, requests bigint, denial_streak integer, highest_sensitivity integer,
    risk_level text, hour_total bigint, at_hour bigint, network text, network_last_seen_at timestamptz,
    resource_used boolean, recent_requests bigint, peers bigint, peers_with_access bigint, activations bigint,
    active_signals text)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN QUERY
    SELECT b.first_request_at, coalesce(b.requests, 0)::int8, coalesce(b.denial_streak, 0)::int4,
        b.highest_sensitivity, b.risk_level,
        coalesce(t.requests, 0)::int8 - CASE WHEN old_weeks.kept
            THEN (airlock_risk_hours_before(principal, hours_since, hour_of_week))[1] ELSE 0 END,
        coalesce(t.by_hour[hour_of_week + 1], 0)::int8 - CASE WHEN old_weeks.kept
            THEN (airlock_risk_hours_before(principal, hours_since, hour_of_week))[2] ELSE 0 END,
        n.network::text, n.last_seen_at,
        EXISTS (SELECT 1 FROM risk_grants g WHERE g.principal_id = principal AND g.resource_id = resource),
        (SELECT count(*) FROM access_requests r WHERE r.principal_id = principal AND r.created_at > burst_since),
        CASE WHEN cardinality(principal_groups) = 1 THEN
            coalesce((SELECT sum(c.members) FROM risk_group_member_counts c WHERE c.group_name = principal_groups[1]), 0)
            - (EXISTS (SELECT 1 FROM risk_group_members m
                       WHERE m.group_name = principal_groups[1] AND m.principal_id = principal))::int
        ELSE several.counts[1] END::int8,
        CASE WHEN cardinality(principal_groups) = 1 THEN
            coalesce((SELECT sum(c.holders) FROM risk_group_holder_counts c
                      WHERE c.group_name = principal_groups[1] AND c.resource_id = resource), 0)
            - (EXISTS (SELECT 1 FROM risk_group_grants gg WHERE gg.group_name = principal_groups[1]
                         AND gg.resource_id = resource AND gg.principal_id = principal))::int
        ELSE several.counts[2] END::int8,
        (SELECT count(*) FROM access_requests r WHERE r.principal_id = principal AND r.resource_id = resource
         AND r.role = requested_role AND r.created_at > activations_since AND r.status = 'issued'),
        CASE WHEN EXISTS (SELECT 1 FROM risk_signals s WHERE s.principal_id = principal AND s.withdrawn_at IS NULL
                          AND s.expires_at > at AND s.received_at <= at)
            THEN airlock_risk_active_signals(principal, at) ELSE '[]' END
    FROM (SELECT EXISTS (SELECT 1 FROM risk_hour_weeks w
                         WHERE w.principal_id = principal AND w.week < hours_since::date) AS kept) AS old_weeks
    LEFT JOIN risk_baselines b ON b.principal_id = principal
    LEFT JOIN risk_hour_totals t ON t.principal_id = principal
    LEFT JOIN risk_networks n ON n.principal_id = principal AND n.network = airlock_risk_network(source_ip::inet)
    -- Several groups: counted once each, by a function that runs only then (`OFFSET 0` keeps it one call).
    CROSS JOIN LATERAL (
        SELECT CASE WHEN cardinality(principal_groups) = 1 THEN NULL
                    ELSE airlock_risk_peer_counts(principal, principal_groups, resource) END AS counts
        OFFSET 0
    ) AS several;
END;
$$;
