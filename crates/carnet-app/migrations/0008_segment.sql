-- An opportunity's segment is its account's tag in a segment category (the
-- lowest tag id if there are several), kept on the row so that the board and the
-- totals can group and filter by it. The totals gain the segment.
ALTER TABLE opportunities ADD COLUMN segment_tag_id BIGINT;
UPDATE opportunities SET segment_tag_id = (
    SELECT MIN(rt.tag_id) FROM record_tags rt JOIN tags t ON t.id = rt.tag_id JOIN tag_categories tc ON tc.id = t.category_id
    WHERE tc.is_segment = TRUE AND rt.entity = 'account' AND rt.record_id = opportunities.account_id);

DROP TABLE open_pipeline;
CREATE TABLE open_pipeline (
    pipeline_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    owner_key BIGINT NOT NULL,
    segment_key BIGINT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, owner_key, segment_key, month, currency)
);
CREATE INDEX open_pipeline_month ON open_pipeline(month);
INSERT INTO open_pipeline (pipeline_id, stage_id, owner_key, segment_key, month, currency, deals, amount)
SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency, COUNT(*), SUM(amount)
FROM opportunities WHERE status = 'open'
GROUP BY pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(segment_tag_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency;
