-- Carnet foundation schema. Written once for both databases: {{ID}} and {{C}} are
-- replaced per dialect (see src/db/dialect.rs). Times are unix seconds (UTC);
-- money is in minor units (cents); dates are 'YYYY-MM-DD' text.

CREATE TABLE app_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id {{ID}},
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'en',
    time_zone TEXT NOT NULL DEFAULT 'Europe/Paris',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE statuses (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL,
    color TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE tag_categories (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    multi BOOLEAN NOT NULL DEFAULT FALSE,
    is_segment BOOLEAN NOT NULL DEFAULT FALSE,
    position BIGINT NOT NULL
);

CREATE TABLE tags (
    id {{ID}},
    category_id BIGINT NOT NULL REFERENCES tag_categories(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    position BIGINT NOT NULL,
    UNIQUE (category_id, name)
);

CREATE TABLE custom_fields (
    id {{ID}},
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    choices TEXT NOT NULL DEFAULT '[]',
    position BIGINT NOT NULL,
    UNIQUE (entity, key)
);

CREATE TABLE mandatory_rules (
    id {{ID}},
    entity TEXT NOT NULL,
    field TEXT NOT NULL,
    from_status_id BIGINT REFERENCES statuses(id) ON DELETE CASCADE,
    UNIQUE (entity, field)
);

CREATE TABLE contact_roles (
    id {{ID}},
    name TEXT NOT NULL UNIQUE,
    position BIGINT NOT NULL
);

CREATE TABLE accounts (
    id {{ID}},
    name TEXT NOT NULL,
    name_key TEXT{{C}} NOT NULL,
    company_key TEXT NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses(id),
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    email TEXT,
    phone TEXT,
    phone_key TEXT,
    website TEXT,
    domain TEXT,
    address TEXT,
    postal_code TEXT,
    city TEXT,
    country TEXT,
    company_id TEXT,
    company_id_key TEXT,
    vat_number TEXT,
    source TEXT,
    description TEXT,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX accounts_name ON accounts(name_key, id);
CREATE INDEX accounts_created ON accounts(created_at, id);
CREATE INDEX accounts_updated ON accounts(updated_at, id);
CREATE INDEX accounts_status ON accounts(status_id, name_key, id);
CREATE INDEX accounts_owner ON accounts(owner_id, name_key, id);
CREATE INDEX accounts_company_key ON accounts(company_key);
CREATE INDEX accounts_phone ON accounts(phone_key);
CREATE INDEX accounts_domain ON accounts(domain);
CREATE INDEX accounts_company_id ON accounts(company_id_key);
CREATE INDEX accounts_email ON accounts(email);

CREATE TABLE contacts (
    id {{ID}},
    first_name TEXT,
    last_name TEXT NOT NULL,
    name_key TEXT{{C}} NOT NULL,
    email TEXT,
    email_key TEXT,
    phone TEXT,
    phone_key TEXT,
    mobile TEXT,
    mobile_key TEXT,
    job_title TEXT,
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    source TEXT,
    address TEXT,
    postal_code TEXT,
    city TEXT,
    country TEXT,
    description TEXT,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contacts_name ON contacts(name_key, id);
CREATE INDEX contacts_created ON contacts(created_at, id);
CREATE INDEX contacts_updated ON contacts(updated_at, id);
CREATE INDEX contacts_owner ON contacts(owner_id, name_key, id);
CREATE INDEX contacts_email ON contacts(email_key);
CREATE INDEX contacts_phone ON contacts(phone_key);
CREATE INDEX contacts_mobile ON contacts(mobile_key);

-- A contact on several accounts, with a role on each (R6).
CREATE TABLE account_contacts (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    role_id BIGINT REFERENCES contact_roles(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, contact_id)
);
CREATE INDEX account_contacts_contact ON account_contacts(contact_id);

-- Tags on any record type (R3). entity is 'account', 'contact' or 'opportunity'.
CREATE TABLE record_tags (
    entity TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (entity, record_id, tag_id)
);
CREATE INDEX record_tags_tag ON record_tags(tag_id, entity, record_id);

-- Custom field values (R4): one row per value (several for multiple choice),
-- text in value_text, numbers/amounts/booleans in value_num, so filters and
-- sorting use an index on either.
CREATE TABLE field_values (
    id {{ID}},
    field_id BIGINT NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
    record_id BIGINT NOT NULL,
    value_text TEXT,
    value_num DOUBLE PRECISION
);
CREATE INDEX field_values_record ON field_values(record_id, field_id);
CREATE INDEX field_values_text ON field_values(field_id, value_text, record_id);
CREATE INDEX field_values_num ON field_values(field_id, value_num, record_id);

-- The timeline of every record (R7): creations, changes, comments, attachments.
CREATE TABLE timeline (
    id {{ID}},
    entity TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    body TEXT,
    data TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX timeline_record ON timeline(entity, record_id, id);
CREATE INDEX timeline_feed ON timeline(kind, id);

CREATE TABLE attachments (
    id {{ID}},
    entity TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    uploaded_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_record ON attachments(entity, record_id);

-- Saved list views (R10): the list's query string, private or shared.
CREATE TABLE saved_views (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    shared BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX saved_views_user ON saved_views(user_id, entity);

-- Instant search (R10): folded words, emails, phone digits, identifiers and tag
-- names of each record, matched by prefix through the index.
CREATE TABLE search_tokens (
    token TEXT{{C}} NOT NULL,
    entity TEXT NOT NULL,
    record_id BIGINT NOT NULL
);
CREATE INDEX search_tokens_token ON search_tokens(token, entity, record_id);
CREATE INDEX search_tokens_record ON search_tokens(entity, record_id);
