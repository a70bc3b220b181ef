-- Claiming reads the due jobs in (run_at, id) order straight from an index and
-- stops after a batch: with many jobs queued at one instant, an index on
-- (status, run_at) alone left PostgreSQL to sort them all on every claim.
-- (SQLite's index entries end with the rowid, which is the id.)
CREATE INDEX jobs_claim ON jobs(status, run_at, id);
DROP INDEX jobs_due;
