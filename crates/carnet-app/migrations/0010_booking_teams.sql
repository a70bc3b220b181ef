-- Team booking pages (A4): one public page for several reps; each booking goes
-- to a free member, in turn (round robin) or to the least busy. A booking
-- remembers its team, so a reschedule uses the same rules.
CREATE TABLE booking_teams (
    id {{ID}},
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type_id BIGINT NOT NULL REFERENCES action_types(id),
    duration_min BIGINT NOT NULL,
    buffer_before_min BIGINT NOT NULL,
    buffer_after_min BIGINT NOT NULL,
    min_notice_min BIGINT NOT NULL,
    horizon_days BIGINT NOT NULL,
    -- 'round_robin' or 'least_busy'
    strategy TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Round robin: the member who got the last booking.
    last_user_id BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE booking_team_members (
    team_id BIGINT NOT NULL REFERENCES booking_teams(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
ALTER TABLE bookings ADD COLUMN team_id BIGINT REFERENCES booking_teams(id) ON DELETE SET NULL;
