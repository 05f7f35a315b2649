DELETE FROM outbox_emails WHERE kind = 'BOOKING_RELEASED';
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET'));

DELETE FROM booking_events WHERE kind = 'RELEASED';
ALTER TABLE booking_events DROP CONSTRAINT booking_events_kind_check;
ALTER TABLE booking_events ADD CONSTRAINT booking_events_kind_check
    CHECK (kind IN ('CREATED', 'UPDATED', 'CANCELLED', 'ACCESS_ENDED'));

-- A released booking freed its room: it goes back as cancelled, never as confirmed.
UPDATE bookings SET status = 'CANCELLED' WHERE status = 'RELEASED';
DROP INDEX bookings_due_release_idx;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('CONFIRMED', 'CANCELLED'));
ALTER TABLE bookings DROP COLUMN release_at, DROP COLUMN checked_in_at;

ALTER TABLE rooms DROP COLUMN release_after_minutes, DROP COLUMN check_in_required;
