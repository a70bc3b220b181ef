-- The weighted amount of a pipeline snapshot is kept exact, in cent-percents
-- (Σ amount × probability), and divided once when read. Snapshots taken before
-- kept it in cents, truncated; they are carried over as well as they can be.
UPDATE pipeline_snapshots SET weighted = weighted * 100;
