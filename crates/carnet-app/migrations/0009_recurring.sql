-- Recurring actions (A6): "for every account in segment S (a tag or a saved view
-- of accounts), plan an action of type X every N months, assigned to the
-- account's owner". Occurrences are ordinary actions that remember their rule
-- and the time the rule gave them, so that a moved occurrence is told apart
-- from an untouched one.
CREATE TABLE recurring_rules (
    id {{ID}},
    name TEXT NOT NULL,
    type_id BIGINT NOT NULL REFERENCES action_types(id),
    segment_tag_id BIGINT REFERENCES tags(id) ON DELETE CASCADE,
    view_id BIGINT REFERENCES saved_views(id) ON DELETE CASCADE,
    every_months BIGINT NOT NULL,
    horizon_months BIGINT NOT NULL,
    -- Appointments: local time of day (minutes) in the owner's zone, and length.
    start_min BIGINT NOT NULL,
    duration_min BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
ALTER TABLE actions ADD COLUMN recurring_rule_id BIGINT REFERENCES recurring_rules(id) ON DELETE SET NULL;
ALTER TABLE actions ADD COLUMN rule_planned_at BIGINT;
CREATE INDEX actions_recurring ON actions(recurring_rule_id, account_id, planned_at);

-- Reminders (A2): minutes before the action, and the instant the reminder is
-- due; cleared once it has been seen or the action is closed.
ALTER TABLE actions ADD COLUMN remind_min BIGINT;
ALTER TABLE actions ADD COLUMN remind_at BIGINT;
CREATE INDEX actions_reminders ON actions(assignee_id, remind_at) WHERE remind_at IS NOT NULL;
