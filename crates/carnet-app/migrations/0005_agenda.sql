-- Actions and agenda (SPEC A1, A5) and the durable work queue (W2): actions of
-- configurable types, events recorded in the transaction that caused them,
-- jobs claimed with a lease, and follow-up rules.

CREATE TABLE action_types (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    icon TEXT NOT NULL,
    -- 'task' (a due date) or 'appointment' (a start time and a duration)
    kind TEXT NOT NULL,
    position BIGINT NOT NULL
);

CREATE TABLE actions (
    id {{ID}},
    type_id BIGINT NOT NULL REFERENCES action_types(id),
    subject TEXT NOT NULL,
    notes TEXT,
    account_id BIGINT REFERENCES accounts(id) ON DELETE CASCADE,
    contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL,
    opportunity_id BIGINT REFERENCES opportunities(id) ON DELETE CASCADE,
    assignee_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    -- Appointments: start (UTC seconds) and duration; tasks: a due date.
    starts_at BIGINT,
    duration_min BIGINT,
    due_date TEXT,
    -- Planned until done: done_at, time spent and the outcome
    -- ('done', 'no_show', 'cancelled', 'rescheduled').
    done_at BIGINT,
    spent_min BIGINT,
    outcome TEXT,
    -- When the action is planned, for ordering and "next action": starts_at, or
    -- the due date at 00:00 UTC.
    planned_at BIGINT NOT NULL,
    sequence BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX actions_assignee ON actions(assignee_id, planned_at);
CREATE INDEX actions_opportunity ON actions(opportunity_id, outcome, planned_at);
CREATE INDEX actions_account ON actions(account_id, planned_at);
CREATE INDEX actions_contact ON actions(contact_id, planned_at);

-- Background work is rows: claimed with a lease, retried with backoff, kept
-- with its error when it fails for good.
CREATE TABLE jobs (
    id {{ID}},
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    idempotency_key TEXT UNIQUE,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs(status, run_at);

-- What happened, recorded in the same transaction as the change.
CREATE TABLE events (
    id {{ID}},
    kind TEXT NOT NULL,
    entity TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Effects already produced, by key: a job re-run after a crash finds its effect
-- here and does not repeat it.
CREATE TABLE job_effects (
    effect_key TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- "When an action of type X is done [for segment S], create action Y for the
-- same people, due in N (business) days, assigned to the same rep."
CREATE TABLE followup_rules (
    id {{ID}},
    when_type_id BIGINT NOT NULL REFERENCES action_types(id) ON DELETE CASCADE,
    segment_tag_id BIGINT REFERENCES tags(id) ON DELETE CASCADE,
    then_type_id BIGINT NOT NULL REFERENCES action_types(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    due_days BIGINT NOT NULL,
    business_days BOOLEAN NOT NULL DEFAULT TRUE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
