-- Requests that move by themselves (issue 17): when a waiting request's approvers were reminded, and when it was
-- escalated, so that each happens once per request whichever replica's sweep gets there first.
ALTER TABLE access_requests ADD COLUMN reminded_at timestamptz;
ALTER TABLE access_requests ADD COLUMN escalated_at timestamptz;

-- The sweep reads waiting requests by age.
CREATE INDEX access_requests_waiting ON access_requests (created_at) WHERE status = 'pending_approval';
