-- The risk baseline read in one index lookup per part (issue 15, "≤ 1 ms p99 including its database reads").
-- Migration 0015 kept one row per principal, week and hour of the week, so the score summed up to 13 × 168 rows per
-- request, and it tested each peer's grants one by one. Both are now kept ready by the same triggers, in the
-- transaction that records the request or its decision:
--
-- * `risk_hour_weeks`: one row per principal and week, its requests and their 168 hours of the week as an array, so
--   the score reads at most 13 rows (the window's total and the count at the request's hour of the week);
-- * `risk_group_grants`: who in each group was granted which resource, so "how many of my peers hold this access" is
--   one range of one index.
--
-- Both are exact with several replicas: the hours are upserts and increments, and the triggers that keep the peers'
-- table take a lock per principal (below).

CREATE TABLE risk_hour_weeks (
    principal_id  text NOT NULL,
    week          date NOT NULL,
    requests      integer NOT NULL,
    -- 168 counts; element 1 is Monday 00:00–01:00 in the broker's time zone.
    by_hour       integer[] NOT NULL CHECK (cardinality(by_hour) = 168 AND array_lower(by_hour, 1) = 1),
    PRIMARY KEY (principal_id, week)
);

INSERT INTO risk_hour_weeks (principal_id, week, requests, by_hour)
SELECT w.principal_id, w.week, w.requests, array_agg(coalesce(c.requests, 0) ORDER BY slot.hour_of_week)
FROM (SELECT principal_id, week, sum(requests)::integer AS requests FROM risk_hours GROUP BY principal_id, week) AS w
CROSS JOIN generate_series(0, 167) AS slot(hour_of_week)
LEFT JOIN risk_hours c
    ON c.principal_id = w.principal_id AND c.week = w.week AND c.hour_of_week = slot.hour_of_week
GROUP BY w.principal_id, w.week, w.requests;

DROP TABLE risk_hours;

CREATE TABLE risk_group_grants (
    group_name    text NOT NULL,
    resource_id   text NOT NULL,
    principal_id  text NOT NULL,
    PRIMARY KEY (group_name, resource_id, principal_id)
);

INSERT INTO risk_group_grants (group_name, resource_id, principal_id)
SELECT m.group_name, g.resource_id, m.principal_id
FROM risk_group_members m JOIN risk_grants g ON g.principal_id = m.principal_id
ON CONFLICT DO NOTHING;

-- A new member of a group brings their grants; a new grant goes to each of the principal's groups. Each first takes
-- the principal's lock, so when a membership and a grant of one principal are added at once, whichever trigger runs
-- second waits for the first transaction and then sees its row: the pair is never missed by both.
CREATE FUNCTION airlock_risk_peers_lock(principal text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('airlock.risk.peers:' || principal, 0))
$$;

CREATE FUNCTION airlock_risk_member_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM airlock_risk_peers_lock(NEW.principal_id);
    INSERT INTO risk_group_grants (group_name, resource_id, principal_id)
    SELECT NEW.group_name, g.resource_id, NEW.principal_id FROM risk_grants g WHERE g.principal_id = NEW.principal_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE FUNCTION airlock_risk_grant_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM airlock_risk_peers_lock(NEW.principal_id);
    INSERT INTO risk_group_grants (group_name, resource_id, principal_id)
    SELECT m.group_name, NEW.resource_id, NEW.principal_id FROM risk_group_members m
    WHERE m.principal_id = NEW.principal_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

-- The groups of a principal, for the grant trigger (the primary key starts with the group).
CREATE INDEX risk_group_members_by_principal ON risk_group_members (principal_id);

CREATE TRIGGER risk_group_members_added
    AFTER INSERT ON risk_group_members
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_member_added();

CREATE TRIGGER risk_grants_added
    AFTER INSERT ON risk_grants
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_grant_added();

-- As in 0015, with the hours of the week kept by week.
CREATE OR REPLACE FUNCTION airlock_risk_request_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request_weekday integer := array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                                      NEW.evaluation_input -> 'request' ->> 'weekday') - 1;
    request_hour    integer := (NEW.evaluation_input -> 'request' ->> 'hour')::integer;
    request_week    date := date_trunc('week', NEW.created_at)::date;
    slot            integer;
    first_of_week   integer[];
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
        DELETE FROM risk_hour_weeks WHERE principal_id = NEW.principal_id AND week < request_week - 91;
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

-- How often a principal was issued a role on a resource lately (repeated activations), from an index rather than
-- from every request of the principal in the window.
CREATE INDEX access_requests_activations ON access_requests (principal_id, resource_id, role, created_at)
    WHERE status = 'issued';
