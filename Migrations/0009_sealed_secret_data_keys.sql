-- Every sealed column names the data key that seals each of its secrets, so that "no secret uses this data key"
-- is something the database proves rather than something Airlock hopes: a generated column reads the data key id
-- from the ciphertext's header (byte 0 is the format version, bytes 1 to 16 the data key's UUID: see SealedSecret)
-- and a foreign key to `data_keys` makes deleting a data key that still seals a secret fail. Key rotation
-- (`airlock keys rotate`) creates a new data key, re-encrypts every secret under it, then deletes the old one.
-- A value too short to hold a header names no data key (it cannot be opened either).
ALTER TABLE resources ADD COLUMN admin_secret_key uuid
    GENERATED ALWAYS AS (
        CASE WHEN octet_length(admin_secret) >= 17 THEN encode(substring(admin_secret FROM 2 FOR 16), 'hex')::uuid END
    ) STORED
    REFERENCES data_keys (id);
CREATE INDEX resources_by_admin_secret_key ON resources (admin_secret_key);

ALTER TABLE webhook_endpoints ADD COLUMN secret_key uuid
    GENERATED ALWAYS AS (
        CASE WHEN octet_length(secret) >= 17 THEN encode(substring(secret FROM 2 FOR 16), 'hex')::uuid END
    ) STORED
    REFERENCES data_keys (id);
CREATE INDEX webhook_endpoints_by_secret_key ON webhook_endpoints (secret_key);

-- When a data key stopped sealing new secrets (set by rotation); null for the active key.
ALTER TABLE data_keys ADD COLUMN retired_at timestamptz;
