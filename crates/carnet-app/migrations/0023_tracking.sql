-- Website tracking (SPEC M5): the company's sites, their visitors (a
-- first-party anonymous id, joined to a contact once known), the addresses
-- they saw (interned once per site), and one compact row per page view.
-- Addresses of visitors are never stored.

CREATE TABLE track_sites (
    id {{ID}},
    name TEXT NOT NULL,
    -- the key the tracker script names; public (it only says which site)
    site_key TEXT NOT NULL UNIQUE,
    -- space-separated origins (https://www.example.com) whose pages are tracked
    origins TEXT NOT NULL,
    -- keep hits only when the page says the visitor consented
    consent_required BOOLEAN NOT NULL DEFAULT FALSE,
    -- page views older than this are deleted by the daily job
    retention_days BIGINT NOT NULL DEFAULT 395,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE track_urls (
    id {{ID}},
    site_id BIGINT NOT NULL REFERENCES track_sites(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    title TEXT,
    UNIQUE (site_id, url)
);

-- Times in milliseconds: a visitor's views are strictly ordered.
CREATE TABLE track_visitors (
    id {{ID}},
    site_id BIGINT NOT NULL REFERENCES track_sites(id) ON DELETE CASCADE,
    anon TEXT NOT NULL,
    contact_id BIGINT REFERENCES contacts(id) ON DELETE SET NULL,
    identified_at BIGINT,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    -- when the current visit began (a visit ends after 30 minutes without a view)
    visit_at BIGINT NOT NULL,
    visits BIGINT NOT NULL,
    views BIGINT NOT NULL,
    UNIQUE (anon, site_id)
);
CREATE INDEX track_visitors_contact ON track_visitors(contact_id);
CREATE INDEX track_visitors_last ON track_visitors(site_id, last_at);

-- kind: 0 a view within a visit, 1 the first view of a visit, 2 the first
-- view of a return visit (30 days or more after the one before).
-- referrer_id: the address the visit came from, on its first view only.
-- SQLite clusters the rows by time (no row id); PostgreSQL appends them in
-- time order anyway and reads them by time through a block-range index.
CREATE TABLE page_views (
    at_ms BIGINT NOT NULL,
    visitor_id INTEGER NOT NULL,
    url_id INTEGER NOT NULL,
    referrer_id INTEGER,
    kind SMALLINT NOT NULL
--sqlite: , PRIMARY KEY (at_ms, visitor_id)
)
--sqlite: WITHOUT ROWID
;
--postgres: CREATE INDEX page_views_time ON page_views USING brin (at_ms);
CREATE INDEX page_views_visitor ON page_views(visitor_id, at_ms);
