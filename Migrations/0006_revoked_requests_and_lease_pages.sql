-- The kill switch (revoke-all) closes the principal's pending and approved requests as well as its leases: such a
-- request gets its own terminal status, `revoked`, so nobody reads it as a reviewer's denial.
ALTER TABLE access_requests DROP CONSTRAINT access_requests_status_check;
ALTER TABLE access_requests ADD CONSTRAINT access_requests_status_check CHECK (status IN
    ('pending_approval', 'approved', 'issued', 'denied', 'expired', 'revoked'));

-- `GET /v1/leases` pages newest first by (created_at, id), for one principal or for everyone.
CREATE INDEX leases_by_principal_and_time ON leases (principal_id, created_at DESC, id DESC);
CREATE INDEX leases_by_time ON leases (created_at DESC, id DESC);
