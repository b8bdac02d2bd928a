-- Per-principal baselines for the risk score (issue 15). They are kept by trigger on `access_requests`, so each is
-- updated in the transaction that records the request or its decision: exact with any number of replicas (every
-- change is an atomic upsert or increment, never read-modify-write in the broker), and bounded per principal. The
-- table `principal_baselines` of migration 0001 was never written; it is replaced.

DROP TABLE principal_baselines;

-- Counters: since when the principal asks, how often, its denials in a row, the most sensitive grant.
CREATE TABLE risk_baselines (
    principal_id        text PRIMARY KEY,
    first_request_at    timestamptz NOT NULL,
    requests            bigint NOT NULL DEFAULT 0,
    denial_streak       integer NOT NULL DEFAULT 0,
    highest_sensitivity integer
);

-- Requests by hour of the week (0: Monday 00:00 in the broker's time zone, as `request.weekday` and `request.hour`
-- of the decision say), one row per week and hour used: the window is the last 13 weeks, older weeks are removed.
CREATE TABLE risk_hours (
    principal_id  text NOT NULL,
    week          date NOT NULL,
    hour_of_week  smallint NOT NULL CHECK (hour_of_week BETWEEN 0 AND 167),
    requests      integer NOT NULL,
    PRIMARY KEY (principal_id, week, hour_of_week)
);

-- Networks asked from (IPv4 /24, IPv6 /64), the 64 most recent per principal.
CREATE TABLE risk_networks (
    principal_id  text NOT NULL,
    network       cidr NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (principal_id, network)
);
CREATE INDEX risk_networks_recent ON risk_networks (principal_id, last_seen_at DESC);

-- Resources granted (approved), for first use and for peers.
CREATE TABLE risk_grants (
    principal_id     text NOT NULL,
    resource_id      text NOT NULL,
    grants           integer NOT NULL,
    last_granted_at  timestamptz NOT NULL,
    PRIMARY KEY (principal_id, resource_id)
);

-- The people seen in each group (from their requests), for peers.
CREATE TABLE risk_group_members (
    group_name    text NOT NULL,
    principal_id  text NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (group_name, principal_id)
);

CREATE FUNCTION airlock_risk_network(address inet) RETURNS cidr LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT network(set_masklen(address, CASE WHEN family(address) = 4 THEN 24 ELSE 64 END))
$$;

-- A request recorded: counted, its hour and network remembered, its principal's groups; then as its status.
CREATE FUNCTION airlock_risk_request_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request_weekday integer := array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                                      NEW.evaluation_input -> 'request' ->> 'weekday') - 1;
    request_hour    integer := (NEW.evaluation_input -> 'request' ->> 'hour')::integer;
    request_week    date := date_trunc('week', NEW.created_at)::date;
BEGIN
    INSERT INTO risk_baselines (principal_id, first_request_at, requests)
    VALUES (NEW.principal_id, NEW.created_at, 1)
    ON CONFLICT (principal_id) DO UPDATE SET requests = risk_baselines.requests + 1;

    IF request_weekday IS NOT NULL AND request_hour BETWEEN 0 AND 23 THEN
        INSERT INTO risk_hours (principal_id, week, hour_of_week, requests)
        VALUES (NEW.principal_id, request_week, request_weekday * 24 + request_hour, 1)
        ON CONFLICT (principal_id, week, hour_of_week) DO UPDATE SET requests = risk_hours.requests + 1;
        DELETE FROM risk_hours WHERE principal_id = NEW.principal_id AND risk_hours.week < request_week - 91;
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

-- A decision on a request: a grant resets the denial streak and is remembered; a denial adds to the streak.
CREATE FUNCTION airlock_risk_status(request access_requests, status text, at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF status = 'approved' THEN
        UPDATE risk_baselines SET denial_streak = 0,
            highest_sensitivity = greatest(highest_sensitivity,
                (request.evaluation_input -> 'resource' ->> 'sensitivity')::integer)
        WHERE principal_id = request.principal_id;
        INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
        VALUES (request.principal_id, request.resource_id, 1, at)
        ON CONFLICT (principal_id, resource_id)
            DO UPDATE SET grants = risk_grants.grants + 1,
                          last_granted_at = greatest(risk_grants.last_granted_at, EXCLUDED.last_granted_at);
    ELSIF status = 'denied' THEN
        UPDATE risk_baselines SET denial_streak = denial_streak + 1 WHERE principal_id = request.principal_id;
    END IF;
END;
$$;

CREATE FUNCTION airlock_risk_request_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM airlock_risk_status(NEW, NEW.status, coalesce(NEW.decided_at, NEW.created_at));
    RETURN NULL;
END;
$$;

CREATE TRIGGER access_requests_risk_recorded
    AFTER INSERT ON access_requests
    FOR EACH ROW EXECUTE FUNCTION airlock_risk_request_recorded();

CREATE TRIGGER access_requests_risk_decided
    AFTER UPDATE OF status ON access_requests
    FOR EACH ROW WHEN (OLD.status = 'pending_approval' AND NEW.status IN ('approved', 'denied'))
    EXECUTE FUNCTION airlock_risk_request_decided();
