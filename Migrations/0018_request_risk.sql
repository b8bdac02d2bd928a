-- The risk assessment each request was decided with (issue 15): `{"score": N, "signals": [{"name", "weight",
-- "detail"}]}`, shown with the request to its requester and approvers. Requests recorded before the risk engine
-- were all decided at score 0 with no signals, which is what the default says of them.
ALTER TABLE access_requests ADD COLUMN risk jsonb NOT NULL DEFAULT '{"score": 0, "signals": []}'::jsonb;
