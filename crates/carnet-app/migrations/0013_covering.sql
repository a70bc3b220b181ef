-- A rep's open actions by time (the agenda's overdue list), without walking
-- the years of closed ones before them.
CREATE INDEX actions_open ON actions(assignee_id, planned_at) WHERE outcome IS NULL;

-- Fact reads answered from an index alone, without a lookup per row: the
-- per-person rows with the dimensions collapsed ("this year by rep": a row per
-- rep, month and kind), and everyone's rows (a row per month and dimension
-- values). The values summed are part of each index.
DROP INDEX fact_deals_collapsed;
CREATE INDEX fact_deals_collapsed ON fact_deals(grain, segment_key, bucket, currency, owner_key, kind, deals, amount, margin);
CREATE INDEX fact_deals_everyone ON fact_deals(grain, bucket, currency, kind, segment_key, source_key, pipeline_id, offer_key, deals, amount, margin)
    WHERE owner_key = -1;
DROP INDEX fact_actions_collapsed;
CREATE INDEX fact_actions_collapsed ON fact_actions(grain, segment_key, bucket, assignee_key, actions, minutes);
CREATE INDEX fact_actions_everyone ON fact_actions(grain, bucket, segment_key, type_id, actions, minutes)
    WHERE assignee_key = -1;
DROP INDEX fact_effort_collapsed;
CREATE INDEX fact_effort_collapsed ON fact_effort(grain, segment_key, bucket, assignee_key, kind, actions, minutes);
