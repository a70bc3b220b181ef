-- Marketing (SPEC M1–M3): campaigns with their costs, the touches that
-- attribute contacts and opportunities to them, forms (hosted and embedded,
-- questionnaires among them), versioned consent texts, submissions and the
-- consent each contact gave.

CREATE TABLE campaigns (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    -- emailing, linkedin_ads, trade_show, conference, webinar, blog, other
    channel TEXT NOT NULL,
    starts_on TEXT,
    ends_on TEXT,
    -- the segment (tag) it targets; its costs count in that segment's acquisition cost
    segment_tag_id BIGINT REFERENCES tags(id) ON DELETE SET NULL,
    description TEXT,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What a campaign cost: amounts in minor units, on a day.
CREATE TABLE campaign_costs (
    id {{ID}},
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    label TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX campaign_costs_campaign ON campaign_costs(campaign_id, day);
CREATE INDEX campaign_costs_day ON campaign_costs(day);

-- Every time a contact came through a campaign (a form, a tracked link, by hand).
CREATE TABLE campaign_touches (
    id {{ID}},
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    -- form, link, manual
    via TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX campaign_touches_contact ON campaign_touches(contact_id, at);
CREATE INDEX campaign_touches_campaign ON campaign_touches(campaign_id, at);

-- First touch and latest touch, kept on the contact; an opportunity keeps the
-- first touch and the last one before it was created.
ALTER TABLE contacts ADD COLUMN first_campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL;
ALTER TABLE contacts ADD COLUMN last_campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL;
-- The form that created a contact (a lead from marketing, SPEC K4).
ALTER TABLE contacts ADD COLUMN source_form_id BIGINT;
ALTER TABLE opportunities ADD COLUMN first_campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL;
ALTER TABLE opportunities ADD COLUMN campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL;
CREATE INDEX contacts_first_campaign ON contacts(first_campaign_id, created_at);
CREATE INDEX opportunities_campaign ON opportunities(campaign_id);
CREATE INDEX opportunities_first_campaign ON opportunities(first_campaign_id);

CREATE TABLE forms (
    id {{ID}},
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- en or fr: the language of the hosted page and of its emails
    locale TEXT NOT NULL,
    campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL,
    -- JSON: the fields (key, label, required), the questions and result bands
    spec TEXT NOT NULL,
    title TEXT NOT NULL,
    intro TEXT,
    thank_you TEXT NOT NULL,
    redirect_url TEXT,
    -- space-separated origins (https://www.example.com) allowed to embed the form
    allowed_origins TEXT NOT NULL,
    consent_required BOOLEAN NOT NULL,
    double_opt_in BOOLEAN NOT NULL,
    -- the template of the results email of a questionnaire (none: not sent)
    results_template_key TEXT,
    -- a lead magnet (M4): the file a submission unlocks, stored like attachments
    file_name TEXT,
    file_type TEXT,
    file_size BIGINT,
    file_key TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Consent texts, one row per version: a changed text is a new version, and a
-- contact's consent names the version they saw.
CREATE TABLE consent_texts (
    id {{ID}},
    form_id BIGINT NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (form_id, version)
);

CREATE TABLE form_submissions (
    id {{ID}},
    form_id BIGINT NOT NULL REFERENCES forms(id) ON DELETE CASCADE,
    contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL,
    campaign_id BIGINT REFERENCES campaigns(id) ON DELETE SET NULL,
    -- JSON: the values as typed, the hidden values (UTM), the answers
    data TEXT NOT NULL,
    score BIGINT,
    band TEXT,
    -- the address's network (IPv4 /24, IPv6 /48), never the whole address
    network TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX form_submissions_form ON form_submissions(form_id, created_at);
CREATE INDEX form_submissions_contact ON form_submissions(contact_id, created_at);

-- What a contact consented to, when, from which form; `confirmed_at` once the
-- double opt-in link was followed (at once without double opt-in).
CREATE TABLE contact_consents (
    id {{ID}},
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    form_id BIGINT REFERENCES forms(id) ON DELETE SET NULL,
    consent_text_id BIGINT NOT NULL REFERENCES consent_texts(id),
    submission_id BIGINT REFERENCES form_submissions(id) ON DELETE SET NULL,
    given_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    -- the hash of the double opt-in token (none without double opt-in)
    token_hash TEXT UNIQUE,
    network TEXT
);
CREATE INDEX contact_consents_contact ON contact_consents(contact_id, given_at);
