-- The risk baseline read, a little cheaper (issue 15, "≤ 1 ms p99 including its database reads"): the same answers as
-- migration 0023's function, with two shortcuts measured with `pgbench -M prepared` on the data of
-- `airlock bench risk --hold` (about 0.04 ms of 0.45 ms, in every one of seven alternating runs):
--
-- * a principal in one group (the common case) has its peers counted without `DISTINCT`: a member, or a holder of the
--   resource, is one entry of that group's index range (the primary keys make them unique within a group), so the
--   hash that removes duplicates is needed only across several groups;
-- * the active signals are aggregated only when there is one: `jsonb_agg` with its `ORDER BY` was set up for every
--   request although almost none has an active signal.

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
        h.total, h.at_hour, n.network::text, n.last_seen_at,
        EXISTS (SELECT 1 FROM risk_grants g WHERE g.principal_id = principal AND g.resource_id = resource),
        (SELECT count(*) FROM access_requests r WHERE r.principal_id = principal AND r.created_at > burst_since),
        CASE WHEN cardinality(principal_groups) = 1 THEN
            (SELECT count(*) FROM (SELECT 1 FROM risk_group_members m
                                   WHERE m.group_name = principal_groups[1] AND m.principal_id <> principal
                                   LIMIT 1000) AS peer)
        ELSE
            (SELECT count(*) FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
                                   WHERE m.group_name = ANY(principal_groups) AND m.principal_id <> principal
                                   LIMIT 1000) AS peer)
        END::int8,
        CASE WHEN cardinality(principal_groups) = 1 THEN
            (SELECT count(*) FROM (SELECT 1 FROM risk_group_grants gg
                                   WHERE gg.group_name = principal_groups[1] AND gg.resource_id = resource
                                     AND gg.principal_id <> principal
                                   LIMIT 1000) AS holder)
        ELSE
            (SELECT count(*) FROM (SELECT DISTINCT gg.principal_id FROM risk_group_grants gg
                                   WHERE gg.group_name = ANY(principal_groups) AND gg.resource_id = resource
                                     AND gg.principal_id <> principal
                                   LIMIT 1000) AS holder)
        END::int8,
        (SELECT count(*) FROM access_requests r WHERE r.principal_id = principal AND r.resource_id = resource
         AND r.role = requested_role AND r.created_at > activations_since AND r.status = 'issued'),
        CASE WHEN NOT EXISTS (SELECT 1 FROM risk_signals s WHERE s.principal_id = principal AND s.withdrawn_at IS NULL
                                AND s.expires_at > at AND s.received_at <= at) THEN '[]'
        ELSE coalesce((SELECT jsonb_agg(jsonb_build_object(
                      'id', s.id, 'signal', s.signal, 'severity', s.severity, 'source', s.source,
                      'received_at', extract(epoch FROM s.received_at),
                      'expires_at', extract(epoch FROM s.expires_at)) ORDER BY s.received_at, s.id)
                  FROM risk_signals s WHERE s.principal_id = principal AND s.withdrawn_at IS NULL
                    AND s.expires_at > at AND s.received_at <= at), '[]')::text END
    FROM (SELECT 1) AS one
    LEFT JOIN risk_baselines b ON b.principal_id = principal
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(w.requests), 0)::int8 AS total, coalesce(sum(w.by_hour[hour_of_week + 1]), 0)::int8 AS at_hour
        FROM risk_hour_weeks w WHERE w.principal_id = principal AND w.week >= hours_since::date
    ) AS h
    LEFT JOIN risk_networks n ON n.principal_id = principal AND n.network = airlock_risk_network(source_ip::inet);
END;
$$;
