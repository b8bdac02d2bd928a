-- Who reviewed: a person (`user`) or a service. A service counts only toward approval requirements that include
-- services (`including services` in the policy), so each review records its reviewer's kind. Reviews recorded before
-- this migration by Airlock API tokens (`token:<name>`) were services; every other one is taken as a person's.
ALTER TABLE approvals ADD COLUMN approver_kind text NOT NULL DEFAULT 'user' CHECK (approver_kind IN ('user', 'service'));
UPDATE approvals SET approver_kind = 'service' WHERE approver_id LIKE 'token:%';
ALTER TABLE approvals ALTER COLUMN approver_kind DROP DEFAULT;
