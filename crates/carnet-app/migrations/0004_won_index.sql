-- "Won in the period" (forecast, indicators) reads closed deals by closing time
-- and groups them by owner, pipeline and currency: all from this index.
CREATE INDEX opportunities_won ON opportunities(status, closed_at, owner_id, pipeline_id, currency, amount);
DROP INDEX opportunities_closed;
