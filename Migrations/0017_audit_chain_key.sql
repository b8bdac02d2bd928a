-- A keyed audit chain (audit.chain_key_file): each chained event records the id of the key whose HMAC-SHA-256 is
-- its hash, or NULL when its hash is plain SHA-256. The id names the key (16 hex characters of a hash of it) and
-- reveals nothing of it; the key itself never reaches the database.
ALTER TABLE audit_events ADD COLUMN chain_key_id text CHECK (chain_key_id ~ '^[0-9a-f]{16}$');
