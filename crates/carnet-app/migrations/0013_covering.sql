-- A rep's open actions by time (the agenda's overdue list), without walking
-- the years of closed ones before them.
CREATE INDEX actions_open ON actions(assignee_id, planned_at) WHERE outcome IS NULL;

-- Year sums beside the day and month sums: "this year by rep" reads a row per
-- rep and kind instead of one per month.
INSERT INTO fact_deals (grain, owner_key, bucket, kind, segment_key, source_key, pipeline_id, offer_key, currency, deals, amount, margin)
SELECT 'y', owner_key, SUBSTR(bucket, 1, 4), kind, segment_key, source_key, pipeline_id, offer_key, currency, SUM(deals), SUM(amount), SUM(margin)
FROM fact_deals WHERE grain = 'm'
GROUP BY owner_key, SUBSTR(bucket, 1, 4), kind, segment_key, source_key, pipeline_id, offer_key, currency;
INSERT INTO fact_actions (grain, assignee_key, bucket, type_id, segment_key, actions, minutes)
SELECT 'y', assignee_key, SUBSTR(bucket, 1, 4), type_id, segment_key, SUM(actions), SUM(minutes)
FROM fact_actions WHERE grain = 'm'
GROUP BY assignee_key, SUBSTR(bucket, 1, 4), type_id, segment_key;
INSERT INTO fact_effort (grain, assignee_key, bucket, kind, type_id, segment_key, actions, minutes)
SELECT 'y', assignee_key, SUBSTR(bucket, 1, 4), kind, type_id, segment_key, SUM(actions), SUM(minutes)
FROM fact_effort WHERE grain = 'm'
GROUP BY assignee_key, SUBSTR(bucket, 1, 4), kind, type_id, segment_key;

-- Fact reads answered from an index alone, without a lookup per row: the
-- per-person rows with the dimensions collapsed, by period, and everyone's
-- rows (person -1). The values summed are part of each index.
DROP INDEX fact_deals_collapsed;
CREATE INDEX fact_deals_collapsed ON fact_deals(grain, segment_key, bucket, currency, owner_key, kind, deals, amount, margin);
CREATE INDEX fact_deals_everyone ON fact_deals(grain, owner_key, bucket, currency, kind, segment_key, source_key, pipeline_id, offer_key, deals, amount, margin)
    WHERE owner_key = -1;
DROP INDEX fact_actions_collapsed;
CREATE INDEX fact_actions_collapsed ON fact_actions(grain, segment_key, bucket, assignee_key, actions, minutes);
CREATE INDEX fact_actions_everyone ON fact_actions(grain, assignee_key, bucket, segment_key, type_id, actions, minutes)
    WHERE assignee_key = -1;
DROP INDEX fact_effort_collapsed;
CREATE INDEX fact_effort_collapsed ON fact_effort(grain, segment_key, bucket, assignee_key, kind, actions, minutes);
