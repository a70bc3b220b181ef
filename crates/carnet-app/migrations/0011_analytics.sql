-- Analysis (K1–K4). Facts: what each record contributes to the metrics, summed
-- by day ('d', bucket YYYY-MM-DD) and by month ('m', bucket YYYY-MM) of the
-- reporting time zone, per owner and — owner_key / assignee_key = -1 — for
-- everyone. Maintained in the same transaction as each write, rebuilt by
-- `carnet analytics rebuild`, checked by `carnet analytics verify`.

-- Opportunities created, won and lost (kind), with amount and margin.
CREATE TABLE fact_deals (
    grain TEXT NOT NULL,
    owner_key BIGINT NOT NULL,
    bucket TEXT NOT NULL,
    kind TEXT NOT NULL,
    segment_key BIGINT NOT NULL,
    source_key BIGINT NOT NULL,
    pipeline_id BIGINT NOT NULL,
    offer_key BIGINT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    margin BIGINT NOT NULL,
    PRIMARY KEY (grain, owner_key, bucket, kind, segment_key, source_key, pipeline_id, offer_key, currency)
);

-- Actions done (count and minutes spent) by the day they were done.
CREATE TABLE fact_actions (
    grain TEXT NOT NULL,
    assignee_key BIGINT NOT NULL,
    bucket TEXT NOT NULL,
    type_id BIGINT NOT NULL,
    segment_key BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    PRIMARY KEY (grain, assignee_key, bucket, type_id, segment_key)
);

-- Done actions linked to opportunities, by the day their opportunity closed
-- (won or lost): the effort and the cost of winning and losing.
CREATE TABLE fact_effort (
    grain TEXT NOT NULL,
    assignee_key BIGINT NOT NULL,
    bucket TEXT NOT NULL,
    kind TEXT NOT NULL,
    type_id BIGINT NOT NULL,
    segment_key BIGINT NOT NULL,
    actions BIGINT NOT NULL,
    minutes BIGINT NOT NULL,
    PRIMARY KEY (grain, assignee_key, bucket, kind, type_id, segment_key)
);

-- K3: the open pipeline and segment sizes as they were at the end of each day.
CREATE TABLE pipeline_snapshots (
    day TEXT NOT NULL,
    pipeline_id BIGINT NOT NULL,
    stage_id BIGINT NOT NULL,
    owner_key BIGINT NOT NULL,
    segment_key BIGINT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    weighted BIGINT NOT NULL,
    PRIMARY KEY (day, pipeline_id, stage_id, owner_key, segment_key, currency)
);
CREATE TABLE segment_snapshots (
    day TEXT NOT NULL,
    tag_id BIGINT NOT NULL,
    accounts BIGINT NOT NULL,
    PRIMARY KEY (day, tag_id)
);

-- Opportunity cost: what an hour of each user costs (cents).
ALTER TABLE users ADD COLUMN hourly_cost BIGINT NOT NULL DEFAULT 0;

-- K1: the figures each user chose for the home strip, in order.
CREATE TABLE user_figures (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    metric TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);

-- K2: dashboards of widgets.
CREATE TABLE dashboards (
    id {{ID}},
    name TEXT NOT NULL,
    owner_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    shared BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE TABLE widgets (
    id {{ID}},
    dashboard_id BIGINT NOT NULL REFERENCES dashboards(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    chart TEXT NOT NULL,
    metric TEXT NOT NULL,
    -- The request as a query string: breakdown, filters, period, compare.
    query TEXT NOT NULL
);
CREATE INDEX widgets_dashboard ON widgets(dashboard_id, position);
