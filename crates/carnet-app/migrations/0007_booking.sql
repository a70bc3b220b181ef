-- Booking pages (A4): each user's working hours (local minutes of the day in
-- the user's zone) and booking settings; bookings with their manage token.
CREATE TABLE working_hours (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    weekday BIGINT NOT NULL,
    start_min BIGINT NOT NULL,
    end_min BIGINT NOT NULL,
    PRIMARY KEY (user_id, weekday, start_min)
);

CREATE TABLE booking_pages (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    slug TEXT NOT NULL UNIQUE,
    type_id BIGINT NOT NULL REFERENCES action_types(id),
    duration_min BIGINT NOT NULL,
    buffer_before_min BIGINT NOT NULL,
    buffer_after_min BIGINT NOT NULL,
    min_notice_min BIGINT NOT NULL,
    horizon_days BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Bumped by every booking: the row lock that makes concurrent bookings of
    -- one diary wait for each other (PostgreSQL; SQLite has one writer).
    version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE bookings (
    token_hash TEXT PRIMARY KEY,
    action_id BIGINT NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
