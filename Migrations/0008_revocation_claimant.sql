-- The broker that claimed a `revoking` lease (its `broker_instances` id), set only when that broker is registered.
-- A lease claimed by a broker that is gone (its row removed at shutdown, or not moved by a heartbeat for a while) is
-- claimed again at once by another broker, instead of waiting for the claim to lapse: a broker killed mid-sweep
-- delays its leases' revocation by seconds, not minutes.
ALTER TABLE leases ADD COLUMN claimed_by uuid;
