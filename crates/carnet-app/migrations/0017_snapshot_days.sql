-- Which days have their history (K3) recorded, and how: `pipeline` or
-- `segments`, taken `live` at the end of the day or rebuilt from the stage
-- `history` when the end of the day was missed. A day's snapshot is taken once
-- and never overwritten; a day without a row here has no history.
CREATE TABLE snapshot_days (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (day, kind)
);
-- Days recorded before this table existed.
INSERT INTO snapshot_days (day, kind, source, taken_at) SELECT DISTINCT day, 'pipeline', 'live', 0 FROM pipeline_snapshots;
INSERT INTO snapshot_days (day, kind, source, taken_at) SELECT DISTINCT day, 'segments', 'live', 0 FROM segment_snapshots;
