-- Brokers cache what they learn about API tokens (`alk_` authentication, `alkc_` introspection) and drop the
-- cache when a token may have stopped being valid. Every such change notifies channel `airlock_token_changes`,
-- by trigger, so no code path (a revocation, a lease that ends, a row deleted by hand) can forget to.
-- Notifications are delivered at commit.

CREATE FUNCTION airlock_notify_token_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('airlock_token_changes', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_tokens_changed
    AFTER UPDATE OF revoked_at, expires_at, scopes, groups, token_hash ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION airlock_notify_token_change();

CREATE TRIGGER api_tokens_deleted
    AFTER DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION airlock_notify_token_change();

-- A lease that leaves `active` (revoked, expired, being revoked) ends its token.
CREATE TRIGGER leases_left_active
    AFTER UPDATE OF status ON leases
    FOR EACH ROW WHEN (OLD.status = 'active' AND NEW.status <> 'active')
    EXECUTE FUNCTION airlock_notify_token_change();
