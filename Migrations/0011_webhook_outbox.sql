-- Webhook endpoints and their outbox (issue 14). Every audit event that an endpoint's filters select gets a delivery
-- row, written by trigger in the statement that inserts the event, so the two commit or roll back together: no event
-- without its deliveries, no delivery without its event. Dispatchers (on every replica) deliver an endpoint's rows in
-- the chain's order, once the event is chained; an endpoint's backoff and its claim live on the endpoint, since a
-- receiver that is down is down for all of its events.
--
-- Nothing wrote to the tables of migration 0001 (no endpoint could be created before this migration), so the
-- delivery table is replaced rather than altered.

DROP TABLE webhook_deliveries;

ALTER TABLE webhook_endpoints DROP COLUMN delivered_through;
ALTER TABLE webhook_endpoints
    ADD COLUMN description       text NOT NULL DEFAULT '',
    -- `hmac`: `v1,` signatures with the sealed `whsec_` secret; `ed25519`: `v1a,` signatures with the sealed
    -- private key (`secret` holds its 32-byte seed), `public_key` published for receivers.
    ADD COLUMN signing           text NOT NULL DEFAULT 'hmac' CHECK (signing IN ('hmac', 'ed25519')),
    ADD COLUMN public_key        bytea CHECK (public_key IS NULL OR octet_length(public_key) = 32),
    -- During a rotation window the previous key signs too (both signatures are sent, space-separated).
    ADD COLUMN previous_secret   bytea,
    ADD COLUMN previous_until    timestamptz,
    ADD COLUMN status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    ADD COLUMN disabled_reason   text,
    ADD COLUMN created_by        text NOT NULL DEFAULT '',
    -- Delivery state of the endpoint: when it may be tried next (backoff, `Retry-After`), since when it fails.
    ADD COLUMN next_attempt_at   timestamptz,
    ADD COLUMN failing_since     timestamptz,
    ADD COLUMN failures          integer NOT NULL DEFAULT 0,
    -- The dispatcher delivering to it now (one at a time, so its events go out in order), until when.
    ADD COLUMN claimed_by        uuid,
    ADD COLUMN claimed_until     timestamptz,
    ADD CONSTRAINT webhook_endpoints_signing_key CHECK ((signing = 'ed25519') = (public_key IS NOT NULL)),
    ADD CONSTRAINT webhook_endpoints_rotation CHECK ((previous_secret IS NULL) = (previous_until IS NULL));

ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_key uuid
    GENERATED ALWAYS AS (
        CASE WHEN octet_length(previous_secret) >= 17
            THEN encode(substring(previous_secret FROM 2 FOR 16), 'hex')::uuid END
    ) STORED
    REFERENCES data_keys (id);
CREATE INDEX webhook_endpoints_by_previous_secret_key ON webhook_endpoints (previous_secret_key);

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES audit_events (id),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (endpoint_id) WHERE status = 'dead';
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE FUNCTION airlock_severity_rank(severity text) RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_position(ARRAY['info', 'low', 'medium', 'high', 'critical'], severity)
$$;

-- Whether endpoint `e` receives the event (`type`, `severity`, stored `event` text): every filter of the endpoint
-- selects it — event type prefixes (none: every type), `notify` channels of the policy (none: any; else at least one
-- in common with `data.channels`), minimum severity. A test event (`airlock.webhook.test`) goes only to the endpoint
-- it names, whatever its filters. Nothing here can fail on an event's content (`?|` on a missing or odd `channels`
-- is false), so the outbox never refuses an audit event. Used by the outbox trigger and by replays.
CREATE FUNCTION airlock_webhook_selects(e webhook_endpoints, type text, severity text, event text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN type = 'airlock.webhook.test'
        THEN (event::jsonb -> 'data' ->> 'webhook_id') = e.id::text
        ELSE airlock_severity_rank(severity) >= airlock_severity_rank(e.min_severity)
            AND (cardinality(e.event_types) = 0
                 OR EXISTS (SELECT 1 FROM unnest(e.event_types) AS prefix WHERE starts_with(type, prefix)))
            AND (cardinality(e.channels) = 0 OR coalesce((event::jsonb -> 'data' -> 'channels') ?| e.channels, false))
    END
$$;

-- The outbox: one delivery per inserted event and active endpoint that receives it.
CREATE FUNCTION airlock_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT e.id, n.id
    FROM inserted n
    JOIN webhook_endpoints e ON e.deleted_at IS NULL AND e.status = 'active'
    WHERE airlock_webhook_selects(e, n.type, n.severity, n.event)
    ORDER BY n.ingest_id, e.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_outbox
    AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION airlock_webhook_outbox();
