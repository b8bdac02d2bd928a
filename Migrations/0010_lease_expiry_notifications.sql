-- Brokers revoke a lease the moment it expires: each keeps a timer to the earliest expiry it knows of. A lease that
-- becomes active, or whose expiry moves, notifies channel `airlock_lease_expiry` with its expiry in milliseconds
-- since 1970, by trigger, so a broker whose timer is armed later re-arms it at once, whichever replica issued the
-- lease. Notifications are delivered at commit; a broker that misses one still finds the lease by its fallback poll.

CREATE FUNCTION airlock_notify_lease_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('airlock_lease_expiry', (ceil(extract(epoch FROM NEW.expires_at) * 1000))::bigint::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER leases_expiry_armed
    AFTER UPDATE OF status, expires_at ON leases
    FOR EACH ROW WHEN (NEW.status = 'active' AND (OLD.status <> 'active' OR OLD.expires_at <> NEW.expires_at))
    EXECUTE FUNCTION airlock_notify_lease_expiry();

CREATE TRIGGER leases_inserted_active
    AFTER INSERT ON leases
    FOR EACH ROW WHEN (NEW.status = 'active')
    EXECUTE FUNCTION airlock_notify_lease_expiry();
