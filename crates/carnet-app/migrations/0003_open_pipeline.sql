-- Totals of open opportunities by pipeline, stage, owner (0 = none), month of
-- expected close ('' = none) and currency, kept in the same transaction as every
-- opportunity write (src/sales/totals.rs). The board and the forecast read
-- these few thousand rows instead of scanning the open deals.
CREATE TABLE open_pipeline (
    pipeline_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    owner_key BIGINT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (pipeline_id, stage_id, owner_key, month, currency)
);
CREATE INDEX open_pipeline_month ON open_pipeline(month);

INSERT INTO open_pipeline (pipeline_id, stage_id, owner_key, month, currency, deals, amount)
SELECT pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency, COUNT(*), SUM(amount)
FROM opportunities WHERE status = 'open'
GROUP BY pipeline_id, stage_id, COALESCE(owner_id, 0), COALESCE(SUBSTR(expected_close, 1, 7), ''), currency;
