-- Check-in and the release of no-shows (issue 14, item 3). A room's policy may ask the holder to
-- check in; a booking of such a room gets its deadline (`release_at`) when it is booked or moved,
-- and is RELEASED when not checked in by then. A released booking no longer blocks its room: the
-- exclusion constraint already covers CONFIRMED bookings only.
ALTER TABLE rooms
    ADD COLUMN check_in_required boolean NOT NULL DEFAULT false,
    ADD COLUMN release_after_minutes integer NOT NULL DEFAULT 10
        CHECK (release_after_minutes BETWEEN 0 AND 240);

ALTER TABLE bookings
    ADD COLUMN checked_in_at timestamptz,
    ADD COLUMN release_at timestamptz;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('CONFIRMED', 'CANCELLED', 'RELEASED'));
-- What a release pass looks for: confirmed bookings still awaiting check-in, by deadline.
CREATE INDEX bookings_due_release_idx ON bookings (release_at)
    WHERE status = 'CONFIRMED' AND checked_in_at IS NULL AND release_at IS NOT NULL;

ALTER TABLE booking_events DROP CONSTRAINT booking_events_kind_check;
ALTER TABLE booking_events ADD CONSTRAINT booking_events_kind_check
    CHECK (kind IN ('CREATED', 'UPDATED', 'CANCELLED', 'RELEASED', 'ACCESS_ENDED'));

ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET', 'BOOKING_RELEASED'));
