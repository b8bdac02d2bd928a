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
-- One change of answer, for groups of more than 1000 people: the peers were counted up to 1000 and the holders of the
-- resource up to 1000 separately, so in a group of 2500 with 200 holders the share read 200 of 1000 (20 %) instead of
-- about 8 %, and `peer_outlier` could not fire. Now the holders are counted among the peers counted. About 155 µs per call, the same answers (compared on
-- the bench's data over windows of 7 to 200 days, one and several groups, with and without signals).

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

-- The parts of the read that run only for some principals, each planned on its first call in a connection.

-- The peers in `principal_groups`, each counted once, up to 1000; and how many of those counted hold `resource`
-- ({peers, holders}). When there are more than 1000, the holders are counted among the 1000 peers counted, so that the
-- share `peer_outlier` judges is a share of the same people. For the score's several-groups case, and for what
-- approvers see (`AccessRequestStore.approverContext`).
CREATE FUNCTION airlock_risk_peer_counts(principal text, principal_groups text[], resource text) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    counted bigint;
    holders bigint;
BEGIN
    SELECT count(*) INTO counted FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
                                       WHERE m.group_name = ANY(principal_groups) AND m.principal_id <> principal
                                       LIMIT 1000) AS peer;
    IF counted < 1000 THEN
        SELECT count(*) INTO holders FROM (SELECT DISTINCT gg.principal_id FROM risk_group_grants gg
                                           WHERE gg.group_name = ANY(principal_groups) AND gg.resource_id = resource
                                             AND gg.principal_id <> principal) AS holder;
    ELSE
        SELECT count(*) INTO holders
        FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
              WHERE m.group_name = ANY(principal_groups) AND m.principal_id <> principal
              ORDER BY m.principal_id LIMIT 1000) AS peer
        WHERE EXISTS (SELECT 1 FROM risk_group_grants gg WHERE gg.group_name = ANY(principal_groups)
                        AND gg.resource_id = resource AND gg.principal_id = peer.principal_id);
        -- The peers counted are then the first 1000 by name, as the holders just were.
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

-- As in 0026, with the hours from the totals' row (less the weeks before the window, when there are any), and the
-- rare parts behind the functions above.
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
        CASE WHEN cardinality(principal_groups) = 1 THEN one_group.peers ELSE several.counts[1] END,
        CASE WHEN cardinality(principal_groups) = 1 THEN
            (SELECT count(*) FROM risk_group_grants gg
             WHERE gg.group_name = principal_groups[1] AND gg.resource_id = resource AND gg.principal_id <> principal
               AND (one_group.peers < 1000 OR gg.principal_id <= one_group.last_counted))
        ELSE several.counts[2] END,
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
    -- One group (the common case): its first 1000 other members by name, and the last of them; the holders are
    -- counted among the same people (all holders are members).
    CROSS JOIN LATERAL (
        SELECT count(*) AS peers, max(peer.principal_id) AS last_counted
        FROM (SELECT m.principal_id FROM risk_group_members m
              WHERE cardinality(principal_groups) = 1 AND m.group_name = principal_groups[1]
                AND m.principal_id <> principal
              ORDER BY m.principal_id LIMIT 1000) AS peer
    ) AS one_group
    -- Several groups: counted once each, by a function that runs only then (`OFFSET 0` keeps it one call).
    CROSS JOIN LATERAL (
        SELECT CASE WHEN cardinality(principal_groups) = 1 THEN NULL
                    ELSE airlock_risk_peer_counts(principal, principal_groups, resource) END AS counts
        OFFSET 0
    ) AS several;
END;
$$;
