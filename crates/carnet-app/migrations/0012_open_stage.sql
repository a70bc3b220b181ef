-- The open pipeline per stage only (count and amount), kept with the detailed
-- totals: today's pipeline of the whole company reads a few rows per stage
-- instead of one per owner, segment and month. And the detailed totals by owner.
CREATE TABLE open_stage (
    pipeline_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, currency)
);
INSERT INTO open_stage (pipeline_id, stage_id, currency, deals, amount)
SELECT pipeline_id, stage_id, currency, SUM(deals), SUM(amount) FROM open_pipeline GROUP BY pipeline_id, stage_id, currency;
CREATE INDEX open_pipeline_owner ON open_pipeline(owner_key);

-- Per-person rows with the dimensions collapsed, by period: "this year by rep"
-- reads them for every rep at once without walking each rep's whole history.
CREATE INDEX fact_deals_collapsed ON fact_deals(grain, segment_key, bucket);
CREATE INDEX fact_actions_collapsed ON fact_actions(grain, segment_key, bucket);
CREATE INDEX fact_effort_collapsed ON fact_effort(grain, segment_key, bucket);
