-- Resource kinds are the names credential providers register under (postgres and token today; a new provider
-- adds its own without a migration). The columns keep a strict pattern instead of a fixed list.
ALTER TABLE resources DROP CONSTRAINT resources_kind_check;
ALTER TABLE resources ADD CONSTRAINT resources_kind_check CHECK (kind ~ '^[a-z][a-z0-9_-]{0,31}$');
ALTER TABLE leases DROP CONSTRAINT leases_kind_check;
ALTER TABLE leases ADD CONSTRAINT leases_kind_check CHECK (kind ~ '^[a-z][a-z0-9_-]{0,31}$');
