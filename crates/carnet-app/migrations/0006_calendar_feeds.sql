-- Private calendar subscriptions (A3): a token per user, stored as a hash,
-- revocable.
CREATE TABLE calendar_feeds (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX calendar_feeds_user ON calendar_feeds(user_id);
