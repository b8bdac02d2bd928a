-- Webhook latency (issue 14): the outbox trigger tells the chainers that events a webhook endpoint waits for were
-- appended, so they are chained (and then delivered) at once rather than at the chainer's next pass. Only when a
-- delivery was queued: a broker without endpoints pays nothing, and notifications within one transaction collapse
-- into one (same channel, same payload).
CREATE OR REPLACE FUNCTION airlock_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT e.id, n.id
    FROM inserted n
    JOIN webhook_endpoints e ON e.deleted_at IS NULL AND e.status = 'active'
    WHERE airlock_webhook_selects(e, n.type, n.severity, n.event)
    ORDER BY n.ingest_id, e.id;
    GET DIAGNOSTICS queued = ROW_COUNT;
    IF queued > 0 THEN
        PERFORM pg_notify('airlock_audit_appended', '');
    END IF;
    RETURN NULL;
END;
$$;

-- Each delivery keeps its event's place in the chain, set by the chainer in the pass that chains the event (or by a
-- replay, for events chained long ago), so a dispatcher reads an endpoint's next events from an index range rather
-- than by joining and sorting the endpoint's whole backlog on every batch.
ALTER TABLE webhook_deliveries ADD COLUMN sequence bigint;
UPDATE webhook_deliveries d SET sequence = a.sequence FROM audit_events a WHERE a.id = d.event_id;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, sequence)
    WHERE status = 'pending' AND sequence IS NOT NULL;
