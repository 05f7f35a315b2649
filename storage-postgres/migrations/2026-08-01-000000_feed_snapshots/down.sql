DELETE FROM booking_events WHERE kind = 'ACCESS_ENDED';
ALTER TABLE booking_events DROP CONSTRAINT booking_events_booking_check;
ALTER TABLE booking_events DROP COLUMN body;
ALTER TABLE booking_events DROP CONSTRAINT booking_events_kind_check;
ALTER TABLE booking_events ADD CONSTRAINT booking_events_kind_check
    CHECK (kind IN ('CREATED', 'UPDATED', 'CANCELLED'));
ALTER TABLE booking_events ALTER COLUMN booking_id SET NOT NULL;
