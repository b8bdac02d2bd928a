-- Shared Signals streams (issue 16, the transmitter): a receiver's subscription to Airlock's security events. A stream
-- is a webhook endpoint of its own format, so its events go through the webhook outbox and dispatchers — queued by the
-- outbox trigger in the statement that inserts the audit event, delivered in the chain's order, retried with backoff,
-- dead-lettered after three days — but each delivery is one Security Event Token rather than the CloudEvent:
--   `ssf_push`: POSTed to the receiver's URL (RFC 8935), with the authorization header it asked for (sealed in
--               `secret`: the endpoint's `signing` is `none`, since the SET carries the transmitter's signature);
--   `ssf_poll`: kept until the receiver acknowledges it by polling (RFC 8936); no dispatcher claims such an endpoint.
-- A stream may be `paused` (its events are kept and go out when it is enabled again) or `disabled` (none are queued).
ALTER TABLE webhook_endpoints
    ADD COLUMN format text NOT NULL DEFAULT 'cloudevents' CHECK (format IN ('cloudevents', 'ssf_push', 'ssf_poll'));
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_status_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_status_check
    CHECK (status IN ('active', 'paused', 'disabled') AND (status <> 'paused' OR format <> 'cloudevents'));
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_signing_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_signing_check
    CHECK (signing IN ('hmac', 'ed25519', 'none') AND ((signing = 'none') = (format <> 'cloudevents')));

-- One audit event may become two SETs for one stream (a revocation is a CAEP `session-revoked` and a
-- `credential-change`): each is a delivery of its own, numbered by `part`, so each is acknowledged or retried alone.
ALTER TABLE webhook_deliveries ADD COLUMN part smallint NOT NULL DEFAULT 0 CHECK (part >= 0);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_event_id_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_id_event_id_part_key
    UNIQUE (endpoint_id, event_id, part);

CREATE TABLE ssf_streams (
    id               uuid PRIMARY KEY REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The principal that created it: only it (and admins) may read, change, poll or delete it.
    owner            text NOT NULL CHECK (owner <> ''),
    -- The `aud` of its SETs.
    audience         text[] NOT NULL CHECK (cardinality(audience) > 0),
    events_requested text[] NOT NULL,
    -- What Airlock delivers: the requested event types it supports.
    events_delivered text[] NOT NULL,
    status_reason    text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX ssf_streams_by_owner ON ssf_streams (owner);

-- The SETs an audit event becomes for a stream delivering `delivered`: (part, event type URI). Kept in step with
-- `TransmittedSecurityEvent.parts` in Sources/AirlockCore (a test compares the two). The stream's own events
-- (verification, stream-updated) go only to the stream they name, whatever it requested.
CREATE FUNCTION airlock_ssf_parts(type text, delivered text[]) RETURNS TABLE (part smallint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT m.part FROM (VALUES
        ('airlock.credential.issued', 0::smallint, 'https://schemas.openid.net/secevent/caep/event-type/credential-change'),
        ('airlock.credential.revoked', 0::smallint, 'https://schemas.openid.net/secevent/caep/event-type/session-revoked'),
        ('airlock.credential.revoked', 1::smallint, 'https://schemas.openid.net/secevent/caep/event-type/credential-change'),
        ('airlock.risk.level_changed', 0::smallint, 'https://schemas.openid.net/secevent/caep/event-type/risk-level-change'),
        ('airlock.ssf.stream.verification', 0::smallint, 'https://schemas.openid.net/secevent/ssf/event-type/verification'),
        ('airlock.ssf.stream.updated', 0::smallint, 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated')
    ) AS m (type, part, uri)
    WHERE m.type = airlock_ssf_parts.type AND (starts_with(m.type, 'airlock.ssf.stream.') OR m.uri = ANY (delivered))
$$;

-- The outbox: a CloudEvent delivery per active endpoint whose filters select the event (as before); a SET delivery
-- per part for every enabled or paused stream the event concerns.
CREATE OR REPLACE FUNCTION airlock_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, event_id, part)
    SELECT endpoint_id, event_id, part FROM (
        SELECT e.id AS endpoint_id, n.id AS event_id, 0::smallint AS part, n.ingest_id
        FROM inserted n
        JOIN webhook_endpoints e ON e.deleted_at IS NULL AND e.status = 'active' AND e.format = 'cloudevents'
        WHERE airlock_webhook_selects(e, n.type, n.severity, n.event)
        UNION ALL
        SELECT e.id, n.id, p.part, n.ingest_id
        FROM inserted n
        JOIN webhook_endpoints e ON e.deleted_at IS NULL AND e.status IN ('active', 'paused') AND e.format <> 'cloudevents'
        JOIN ssf_streams s ON s.id = e.id
        CROSS JOIN LATERAL airlock_ssf_parts(n.type, s.events_delivered) p
        WHERE NOT starts_with(n.type, 'airlock.ssf.stream.') OR (n.event::jsonb -> 'data' ->> 'stream_id') = e.id::text
    ) queued_rows
    ORDER BY ingest_id, endpoint_id, part;
    GET DIAGNOSTICS queued = ROW_COUNT;
    IF queued > 0 THEN
        PERFORM pg_notify('airlock_audit_appended', '');
    END IF;
    RETURN NULL;
END;
$$;

-- Due push streams are found as webhook endpoints are; a poll stream's deliveries are read by its receiver.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, sequence, part)
    WHERE status = 'pending' AND sequence IS NOT NULL;
