-- Email (SPEC M6): the outbox, message events (opens, clicks…), the suppression
-- list and the company's templates.
--
-- An email is a row written in the transaction of what caused it, then sent by
-- a `mail.send` job. Delivery is at most once: `sending` is committed before the
-- SMTP conversation; a row found in `sending` by a later attempt becomes
-- `unknown` for a person to decide.
CREATE TABLE emails (
    id {{ID}},
    message_id TEXT NOT NULL UNIQUE,
    -- transactional (booking, reminders, invitations, one-off) or marketing
    category TEXT NOT NULL,
    template_key TEXT,
    status TEXT NOT NULL,
    to_address TEXT NOT NULL,
    -- folded (lowercase) address: the suppression list is keyed by it
    to_key TEXT NOT NULL,
    to_name TEXT,
    from_name TEXT NOT NULL,
    from_address TEXT NOT NULL,
    reply_to TEXT,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text_body TEXT NOT NULL,
    -- an iCalendar part (invitations), sent as text/calendar and as invite.ics
    ics TEXT,
    ics_method TEXT,
    -- JSON array of the links in the message, in order: a click token names an index
    links TEXT NOT NULL,
    tracking BOOLEAN NOT NULL,
    user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL,
    account_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    opportunity_id BIGINT REFERENCES opportunities(id) ON DELETE SET NULL,
    action_id BIGINT REFERENCES actions(id) ON DELETE SET NULL,
    -- human opens and clicks (machine fetches are in email_events only)
    opens BIGINT NOT NULL DEFAULT 0,
    clicks BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    smtp_response TEXT,
    queued_at BIGINT NOT NULL,
    sending_at BIGINT,
    sent_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX emails_status ON emails(status, id);
CREATE INDEX emails_contact ON emails(contact_id, id);
CREATE INDEX emails_opportunity ON emails(opportunity_id, id);
CREATE INDEX emails_to ON emails(to_key, id);
-- The email metrics read the messages handed to the relay in a period.
CREATE INDEX emails_attempted ON emails(sending_at);
CREATE INDEX emails_sent_at ON emails(sent_at);

-- What happened to a sent message: open, click, unsubscribe, bounce, complaint.
-- `human` is FALSE for proxy fetches and security scanners; `why` says why.
CREATE TABLE email_events (
    id {{ID}},
    email_id BIGINT NOT NULL REFERENCES emails(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    link_index BIGINT,
    human BOOLEAN NOT NULL,
    why TEXT,
    user_agent TEXT,
    address TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_events_email ON email_events(email_id, id);

-- Addresses marketing messages are not sent to (and, when bounced, nothing is).
CREATE TABLE suppressions (
    address_key TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    -- unsubscribed, bounced, complained, manual
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    detail TEXT,
    created_at BIGINT NOT NULL
);

-- The company's templates: one row per key and language.
CREATE TABLE email_templates (
    id {{ID}},
    template_key TEXT NOT NULL,
    locale TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    builtin BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (template_key, locale)
);

ALTER TABLE contacts ADD COLUMN unsubscribed_at BIGINT;
ALTER TABLE contacts ADD COLUMN unsubscribe_source TEXT;
-- The name a rep's emails go out under (default: their name).
ALTER TABLE users ADD COLUMN sender_name TEXT;
-- A booking's manage token is derived from the action and this nonce with the
-- installation's key, so the confirmation email can carry its link.
ALTER TABLE bookings ADD COLUMN nonce TEXT;
-- An appointment whose contact gets a calendar invitation and its updates.
ALTER TABLE actions ADD COLUMN invite BOOLEAN NOT NULL DEFAULT FALSE;

-- Links that let a person choose a password: a reset asked for from the
-- sign-in page, or an invitation sent by an administrator. Signed by being
-- random (only their hash is kept), expiring, used once.
CREATE TABLE password_links (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- reset or invitation
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_links_user ON password_links(user_id);
