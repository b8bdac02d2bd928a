-- A principal's risk level (issue 16: CAEP `risk-level-change`): LOW, MEDIUM or HIGH by the score of their last
-- request and the configured thresholds (`risk.levels.*`). Written only when it changes, in the statement that records
-- the request whose score changed it, together with `airlock.risk.level_changed`; null is LOW (never changed).
ALTER TABLE risk_baselines ADD COLUMN risk_level text CHECK (risk_level IN ('LOW', 'MEDIUM', 'HIGH'));
