-- A policy set loaded by a reload is announced to every replica (channel `airlock_policy_changes`). Marking it lets
-- a replica that was not listening at that moment catch up on the newest announcement when it listens again.
ALTER TABLE policy_sets ADD COLUMN announced boolean NOT NULL DEFAULT false;
CREATE INDEX policy_sets_announced ON policy_sets (loaded_at DESC) WHERE announced;
