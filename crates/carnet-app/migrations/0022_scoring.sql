-- Lead scoring (SPEC M7): rules award points on events, a ledger keeps each
-- award with its expiry, the contact's score is the sum of the awards that
-- have not expired; thresholds hand a lead to a rep once.

CREATE TABLE scoring_rules (
    id {{ID}},
    name TEXT NOT NULL,
    -- email_open, email_click, form_submitted, file_downloaded, questionnaire_band
    trigger_kind TEXT NOT NULL,
    -- a form id (form_submitted, file_downloaded) or a band's label; none: any
    target TEXT,
    points BIGINT NOT NULL,
    -- the points expire after this many days (none: they stay)
    decay_days BIGINT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One award per event and rule (an event delivered twice awards once).
CREATE TABLE score_points (
    id {{ID}},
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    rule_id BIGINT NOT NULL REFERENCES scoring_rules(id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    points BIGINT NOT NULL,
    at BIGINT NOT NULL,
    expires_at BIGINT,
    -- set once the expiry has been taken off the contact's score
    expired BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (event_id, rule_id)
);
CREATE INDEX score_points_contact ON score_points(contact_id, at);
CREATE INDEX score_points_expiry ON score_points(expired, expires_at);

ALTER TABLE contacts ADD COLUMN score BIGINT NOT NULL DEFAULT 0;
CREATE INDEX contacts_score ON contacts(score);
-- Qualified leads (SPEC M9): an interest detected (a threshold crossed, a
-- meeting booked, "call me" ticked on a form), then qualified once email and
-- phone are known.
ALTER TABLE contacts ADD COLUMN interest_at BIGINT;
ALTER TABLE contacts ADD COLUMN interest TEXT;
ALTER TABLE contacts ADD COLUMN qualified_at BIGINT;
CREATE INDEX contacts_qualified ON contacts(qualified_at, owner_id);

-- Crossing a threshold hands the lead to a rep (round robin among `reps`),
-- creates a call task, sets the account's status and tells the rep.
CREATE TABLE scoring_thresholds (
    id {{ID}},
    name TEXT NOT NULL,
    points BIGINT NOT NULL,
    -- only for contacts of accounts in this segment (none: everyone)
    segment_tag_id BIGINT REFERENCES tags(id) ON DELETE CASCADE,
    -- space-separated user ids, in round-robin order
    reps TEXT NOT NULL,
    last_rep_id BIGINT,
    -- the account status set on crossing (none: unchanged)
    status_id BIGINT REFERENCES statuses(id) ON DELETE SET NULL,
    task_type_id BIGINT REFERENCES action_types(id) ON DELETE SET NULL,
    notify BOOLEAN NOT NULL DEFAULT TRUE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

-- A contact crosses a threshold once, whatever the number of events or workers.
CREATE TABLE threshold_crossings (
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    threshold_id BIGINT NOT NULL REFERENCES scoring_thresholds(id) ON DELETE CASCADE,
    rep_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    action_id BIGINT REFERENCES actions(id) ON DELETE SET NULL,
    score BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, threshold_id)
);
CREATE INDEX threshold_crossings_rep ON threshold_crossings(rep_id, at);

-- Re-qualification (SPEC M8): rules on behaviour suggest moving an account
-- from one segment tag to another; a manager accepts or dismisses each.
CREATE TABLE requalify_rules (
    id {{ID}},
    name TEXT NOT NULL,
    from_tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    to_tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    -- over the last `within_days`, by the account's contacts: human opens,
    -- clicks, forms sent, at least
    min_opens BIGINT NOT NULL,
    min_clicks BIGINT NOT NULL,
    min_forms BIGINT NOT NULL,
    within_days BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE requalify_suggestions (
    id {{ID}},
    rule_id BIGINT NOT NULL REFERENCES requalify_rules(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- JSON: the opens, clicks and forms counted
    evidence TEXT NOT NULL,
    -- open, accepted, dismissed
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    decided_at BIGINT
);
CREATE INDEX requalify_suggestions_status ON requalify_suggestions(status, created_at);
CREATE INDEX requalify_suggestions_account ON requalify_suggestions(account_id, rule_id);
