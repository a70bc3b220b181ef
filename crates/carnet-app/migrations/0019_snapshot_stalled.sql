-- How many of a snapshot group's open deals were stalled (in their stage longer
-- than it allows) at the end of the day, so that "stalled on 31 January" is
-- what it was then. NULL on snapshots taken before it was recorded.
ALTER TABLE pipeline_snapshots ADD COLUMN stalled BIGINT;
