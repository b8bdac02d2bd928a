-- The risk baseline read: the hours of the week from one row, and less work per call (issue 15, "≤ 1 ms p99 including its database reads").
--
-- The score reads, for the last 13 weeks, how many requests a principal made and how many of them at the request's
-- hour of the week. Since 0019 it summed up to 13 weekly rows of `risk_hour_weeks` (about 700 bytes each) for that:
-- 16 buffers per request, and for 10,000 principals a table of 106 MB, beyond the default shared buffers, so a
-- random principal's weeks were often read from outside them (`airlock bench risk --hold`, `EXPLAIN (ANALYZE,
-- BUFFERS)`). Now `risk_hour_totals` keeps, per principal, the sum of all their weekly rows, in the transaction that
-- records the request (as the weekly rows are); the read takes that one row and subtracts the weekly rows older than
-- the window, which exist only for a principal who has not asked since they left it (the recording removes them). The
-- answers are the same: the sum of the kept weeks from the window's start.
--
-- Exact with several replicas: each request's trigger increments its principal's row under its row lock, and
-- subtracts only the weeks its own `DELETE` removed.
--
-- And less work per call. `perf` on the PostgreSQL server under `pgbench -M prepared` with the bench's data showed
-- about 230 µs of server CPU per call, of which a third was setting up the statement's plan (every node of every
-- subquery is initialised on each call, whether it runs or not) and a tenth was `airlock_risk_network`: declared
-- `STRICT` around a `CASE`, it could not be inlined, so each call parsed and planned its body again. Now the parts
-- that almost never run (peers across several groups, with their hash tables; the weeks before the window; the
-- active signals' aggregate) are functions called only when needed, and the network function is inlined (the same
-- results: without `STRICT` a null address still gives null).
--
-- And the peers from running totals per group. They were counted by reading up to 1000 entries of the group's
-- index (about 0.3 ms more for a group of 2,000 than for one of 50), and the peers and the holders of the resource
-- were capped at 1000 separately, so in a group of 2500 with 200 holders the share read 200 of 1000 (20 %) instead of
-- about 8 %, and `peer_outlier` could not fire. Now `risk_group_member_counts` and `risk_group_holder_counts` hold
-- changes (+1 for a member or a holder added, -1 for one removed), written by triggers in the transaction that adds
-- them; a group's count is the sum of its rows. Only inserts: a request never waits on, or locks, a row another
-- request touches, so two requests of different people joining one group neither wait for each other nor deadlock (a
-- single counter row per group would be locked by each new member until its transaction ends, and the triggers take
-- those rows in orders that two transactions can cross). The changes of a group are folded into one row when it has 9
-- or more: the folding transaction takes the rows with `FOR UPDATE SKIP LOCKED` (never waiting, so never
-- deadlocking), deletes them and inserts their sum, so a change is counted once whichever transaction folds it, and
-- another transaction's uncommitted change (invisible to it) is left for later. A count is exact in every snapshot,
-- and a group's rows stay few. A principal in one group gets exact counts however large the group; several groups
-- are counted once each up to 1000, the holders among the peers counted (`airlock_risk_peer_counts`).
--
-- Server CPU per call went from about 230 µs to 150–180 µs; the answers are the same (compared with 0026's read on
-- the bench's data over windows of 7 to 200 days, one and several groups, with and without signals), but for the
-- counts of groups of more than 1000.

CREATE TABLE risk_hour_totals (
    principal_id  text PRIMARY KEY,
    requests      integer NOT NULL,
    -- 168 counts, as `risk_hour_weeks.by_hour`: element 1 is Monday 00:00–01:00 in the broker's time zone.
    by_hour       integer[] NOT NULL CHECK (cardinality(by_hour) = 168 AND array_lower(by_hour, 1) = 1)
);

-- Rebuilds every principal's totals from their weekly rows (this migration, and `airlock bench risk` after writing
-- weekly rows directly).
CREATE FUNCTION airlock_risk_hour_totals_rebuild() RETURNS void LANGUAGE sql AS $$
    DELETE FROM risk_hour_totals;
    INSERT INTO risk_hour_totals (principal_id, requests, by_hour)
    SELECT w.principal_id, w.requests, h.by_hour
    FROM (SELECT principal_id, sum(requests)::integer AS requests FROM risk_hour_weeks GROUP BY principal_id) AS w
    CROSS JOIN LATERAL (
        SELECT array_agg(s.total ORDER BY s.slot_number) AS by_hour
        FROM (SELECT u.slot_number, sum(u.count)::integer AS total
              FROM risk_hour_weeks x, unnest(x.by_hour) WITH ORDINALITY AS u(count, slot_number)
              WHERE x.principal_id = w.principal_id GROUP BY u.slot_number) AS s
    ) AS h;
$$;

SELECT airlock_risk_hour_totals_rebuild();

-- As in 0019, with the totals kept beside the weekly rows.
CREATE OR REPLACE FUNCTION airlock_risk_request_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request_weekday integer := array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                                      NEW.evaluation_input -> 'request' ->> 'weekday') - 1;
    request_hour    integer := (NEW.evaluation_input -> 'request' ->> 'hour')::integer;
    request_week    date := date_trunc('week', NEW.created_at)::date;
    slot            integer;
    first_of_week   integer[];
    gone            record;
BEGIN
    INSERT INTO risk_baselines (principal_id, first_request_at, requests)
    VALUES (NEW.principal_id, NEW.created_at, 1)
    ON CONFLICT (principal_id) DO UPDATE SET requests = risk_baselines.requests + 1;

    IF request_weekday IS NOT NULL AND request_hour BETWEEN 0 AND 23 THEN
        slot := request_weekday * 24 + request_hour + 1;
        first_of_week := array_fill(0, ARRAY[168]);
        first_of_week[slot] := 1;
        INSERT INTO risk_hour_weeks (principal_id, week, requests, by_hour)
        VALUES (NEW.principal_id, request_week, 1, first_of_week)
        ON CONFLICT (principal_id, week) DO UPDATE
            SET requests = risk_hour_weeks.requests + 1, by_hour[slot] = risk_hour_weeks.by_hour[slot] + 1;
        INSERT INTO risk_hour_totals (principal_id, requests, by_hour)
        VALUES (NEW.principal_id, 1, first_of_week)
        ON CONFLICT (principal_id) DO UPDATE
            SET requests = risk_hour_totals.requests + 1, by_hour[slot] = risk_hour_totals.by_hour[slot] + 1;
        -- The totals' row is locked now (until commit): the weeks that leave are subtracted exactly once, by the
        -- transaction that deleted them (`RETURNING` gives only the rows this statement removed).
        FOR gone IN DELETE FROM risk_hour_weeks WHERE principal_id = NEW.principal_id AND week < request_week - 91
                    RETURNING risk_hour_weeks.requests, risk_hour_weeks.by_hour LOOP
            UPDATE risk_hour_totals t
            SET requests = t.requests - gone.requests,
                by_hour = (SELECT array_agg(total - left_out ORDER BY slot_number)
                           FROM unnest(t.by_hour, gone.by_hour) WITH ORDINALITY AS u(total, left_out, slot_number))
            WHERE t.principal_id = NEW.principal_id;
        END LOOP;
    END IF;

    IF NEW.source_ip IS NOT NULL THEN
        INSERT INTO risk_networks (principal_id, network, last_seen_at)
        VALUES (NEW.principal_id, airlock_risk_network(NEW.source_ip), NEW.created_at)
        ON CONFLICT (principal_id, network)
            DO UPDATE SET last_seen_at = greatest(risk_networks.last_seen_at, EXCLUDED.last_seen_at);
        DELETE FROM risk_networks WHERE principal_id = NEW.principal_id AND network IN (
            SELECT network FROM risk_networks WHERE principal_id = NEW.principal_id
            ORDER BY last_seen_at DESC OFFSET 64);
    END IF;

    IF NEW.principal_kind = 'user' THEN
        INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
        SELECT DISTINCT g, NEW.principal_id, NEW.created_at
        FROM jsonb_array_elements_text(coalesce(NEW.evaluation_input -> 'principal' -> 'groups', '[]')) AS g
        ON CONFLICT (group_name, principal_id)
            DO UPDATE SET last_seen_at = greatest(risk_group_members.last_seen_at, EXCLUDED.last_seen_at);
    END IF;

    PERFORM airlock_risk_status(NEW, NEW.status, NEW.created_at);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION airlock_risk_network(address inet) RETURNS cidr LANGUAGE sql IMMUTABLE AS $$
    SELECT network(set_masklen(address, CASE WHEN family(address) = 4 THEN 24 ELSE 64 END))
$$;

-- The groups' running totals (see above), from what was recorded so far.
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

-- A membership (or a holder, below) added counts +1 for its group, one removed -1.
CREATE FUNCTION airlock_risk_member_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed risk_group_members := CASE TG_OP WHEN 'INSERT' THEN NEW ELSE OLD END;
BEGIN
    INSERT INTO risk_group_member_counts (group_name, members)
    VALUES (changed.group_name, CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END);
    PERFORM airlock_risk_member_counts_fold(changed.group_name);
    RETURN NULL;
END;
$$;

CREATE FUNCTION airlock_risk_holder_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed risk_group_grants := CASE TG_OP WHEN 'INSERT' THEN NEW ELSE OLD END;
BEGIN
    INSERT INTO risk_group_holder_counts (group_name, resource_id, holders)
    VALUES (changed.group_name, changed.resource_id, CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END);
    PERFORM airlock_risk_holder_counts_fold(changed.group_name, changed.resource_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER risk_group_members_counted
    AFTER INSERT OR DELETE ON risk_group_members
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_member_counted();

CREATE TRIGGER risk_group_grants_counted
    AFTER INSERT OR DELETE ON risk_group_grants
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_holder_counted();

-- The parts of the read that run only for some principals, each planned on its first call in a connection.

-- The peers in `principal_groups`, and how many of them hold `resource` ({peers, holders}): in one group, exactly,
-- from its totals (as `airlock_risk_baseline` counts them inline); in several, each person once, up to 1000, and when
-- there are more than 1000 the holders among the 1000 peers counted, so that the share `peer_outlier` judges is a
-- share of the same people. For the score's several-groups case, and for what approvers see
-- (`AccessRequestStore.approverContext`).
CREATE FUNCTION airlock_risk_peer_counts(principal text, principal_groups text[], resource text) RETURNS bigint[]
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

-- The requests of the weeks kept from before the window: {all of them, those at `hour_of_week`}.
CREATE FUNCTION airlock_risk_hours_before(principal text, hours_since timestamptz, hour_of_week integer) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT ARRAY[coalesce(sum(w.requests), 0), coalesce(sum(w.by_hour[hour_of_week + 1]), 0)]::int8[]
            FROM risk_hour_weeks w WHERE w.principal_id = principal AND w.week < hours_since::date);
END;
$$;

-- The external signals active at `at`, as JSON (without their free-text detail, which the score never reads).
CREATE FUNCTION airlock_risk_active_signals(principal text, at timestamptz) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT jsonb_agg(jsonb_build_object(
                         'id', s.id, 'signal', s.signal, 'severity', s.severity, 'source', s.source,
                         'received_at', extract(epoch FROM s.received_at),
                         'expires_at', extract(epoch FROM s.expires_at)) ORDER BY s.received_at, s.id)
                     FROM risk_signals s WHERE s.principal_id = principal AND s.withdrawn_at IS NULL
                       AND s.expires_at > at AND s.received_at <= at), '[]')::text;
END;
$$;

-- As in 0026, with the hours from the totals' row (less the weeks before the window, when there are any), a
-- principal in one group counted from the group's totals, and the rare parts behind the functions above.
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
        coalesce(t.requests, 0)::int8 - before_window.counts[1],
        coalesce(t.by_hour[hour_of_week + 1], 0)::int8 - before_window.counts[2],
        n.network::text, n.last_seen_at,
        EXISTS (SELECT 1 FROM risk_grants g WHERE g.principal_id = principal AND g.resource_id = resource),
        (SELECT count(*) FROM access_requests r WHERE r.principal_id = principal AND r.created_at > burst_since),
        -- One group: the same counts as `airlock_risk_peer_counts` gives, inline on this path (a call costs more).
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
    -- The weeks kept from before the window, summed by a function that runs only when there are any (`OFFSET 0`
    -- keeps it one call).
    FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM risk_hour_weeks w
                                   WHERE w.principal_id = principal AND w.week < hours_since::date)
                      THEN airlock_risk_hours_before(principal, hours_since, hour_of_week) ELSE '{0, 0}' END AS counts
          OFFSET 0) AS before_window
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
