-- Sales process (SPEC S1–S6): pipelines and stages, offers, sources and lost
-- reasons, opportunities with their stage history, orders.

CREATE TABLE offers (
    id {{ID}},
    name TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    list_price BIGINT NOT NULL,
    currency TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

-- Where opportunities come from; kind groups them for indicators:
-- 'marketing', 'sales' or 'other'.
CREATE TABLE opportunity_sources (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    position BIGINT NOT NULL
);

CREATE TABLE lost_reasons (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL
);

CREATE TABLE pipelines (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    currency TEXT NOT NULL,
    position BIGINT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE
);

-- The segments (tags) and offers a pipeline is for.
CREATE TABLE pipeline_segments (
    pipeline_id BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (pipeline_id, tag_id)
);
CREATE TABLE pipeline_offers (
    pipeline_id BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    offer_id BIGINT NOT NULL REFERENCES offers(id) ON DELETE CASCADE,
    PRIMARY KEY (pipeline_id, offer_id)
);

-- Stages in order; outcome 'open', 'won' or 'lost'.
CREATE TABLE stages (
    id {{ID}},
    pipeline_id BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    probability BIGINT NOT NULL,
    stall_days BIGINT,
    outcome TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX stages_pipeline ON stages(pipeline_id, position);

CREATE TABLE opportunities (
    id {{ID}},
    name TEXT NOT NULL,
    name_key TEXT{{C}} NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines(id),
    stage_id BIGINT NOT NULL REFERENCES stages(id),
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    margin BIGINT,
    offer_id BIGINT REFERENCES offers(id) ON DELETE SET NULL,
    source_id BIGINT REFERENCES opportunity_sources(id) ON DELETE SET NULL,
    expected_close TEXT,
    lost_reason_id BIGINT REFERENCES lost_reasons(id),
    description TEXT,
    closed_at BIGINT,
    stage_entered_at BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
);
-- Board totals read (pipeline, status) → stage and amount from the index alone;
-- board cards read one stage's open deals in the chosen order.
CREATE INDEX opportunities_board ON opportunities(pipeline_id, status, stage_id, amount);
CREATE INDEX opportunities_stage_amount ON opportunities(stage_id, status, amount);
CREATE INDEX opportunities_stage_close ON opportunities(stage_id, status, expected_close);
CREATE INDEX opportunities_stage_age ON opportunities(stage_id, status, stage_entered_at);
CREATE INDEX opportunities_account ON opportunities(account_id);
CREATE INDEX opportunities_owner ON opportunities(owner_id, status);
CREATE INDEX opportunities_close ON opportunities(status, expected_close, owner_id, amount);
CREATE INDEX opportunities_closed ON opportunities(status, closed_at);
CREATE INDEX opportunities_name ON opportunities(name_key, id);
CREATE INDEX opportunities_created ON opportunities(created_at, id);
CREATE INDEX opportunities_updated ON opportunities(updated_at, id);

CREATE TABLE opportunity_contacts (
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (opportunity_id, contact_id)
);
CREATE INDEX opportunity_contacts_contact ON opportunity_contacts(contact_id);

-- Every stage change, kept: the raw data of time in stage, stage conversion and
-- pipeline history.
CREATE TABLE stage_history (
    id {{ID}},
    opportunity_id BIGINT NOT NULL REFERENCES opportunities(id) ON DELETE CASCADE,
    from_stage_id BIGINT REFERENCES stages(id) ON DELETE SET NULL,
    to_stage_id BIGINT NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    moved_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    moved_at BIGINT NOT NULL
);
CREATE INDEX stage_history_opportunity ON stage_history(opportunity_id, id);
CREATE INDEX stage_history_to ON stage_history(to_stage_id, moved_at);

CREATE TABLE orders (
    id {{ID}},
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    order_date TEXT NOT NULL,
    amount BIGINT NOT NULL,
    margin BIGINT,
    currency TEXT NOT NULL,
    offer_id BIGINT REFERENCES offers(id) ON DELETE SET NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX orders_account ON orders(account_id, order_date);
CREATE INDEX orders_date ON orders(order_date);

-- Mandatory rules for opportunities apply from a stage on.
ALTER TABLE mandatory_rules ADD COLUMN from_stage_id BIGINT REFERENCES stages(id) ON DELETE CASCADE;
