-- Recurring bookings: a series and the bookings that are its occurrences. The rule is kept in
-- RFC 5545 parts (FREQ, INTERVAL, BYDAY, BYMONTHDAY, UNTIL or COUNT) with the first start as
-- local time of the site's time zone it was expanded in, so that it can be given to calendars
-- unchanged; the dates the room was taken for (onConflict: SKIP) are kept too.
CREATE TABLE booking_series (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) DEFERRABLE INITIALLY DEFERRED,
    room_id uuid NOT NULL REFERENCES rooms (id) DEFERRABLE INITIALLY DEFERRED,
    site_id uuid NOT NULL REFERENCES sites (id) DEFERRABLE INITIALLY DEFERRED,
    user_id uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_by uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    title text,
    frequency text NOT NULL CHECK (frequency IN ('DAILY', 'WEEKLY', 'MONTHLY')),
    interval integer NOT NULL CHECK (interval >= 1),
    by_day text[] NOT NULL,
    by_month_day integer[] NOT NULL,
    until date,
    count integer,
    local_start timestamp NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes > 0),
    time_zone text NOT NULL,
    skipped timestamptz[] NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT booking_series_end_check CHECK ((until IS NULL) <> (count IS NULL))
);

ALTER TABLE bookings
    ADD COLUMN series_id uuid REFERENCES booking_series (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX bookings_series_id_idx ON bookings (series_id) WHERE series_id IS NOT NULL;
