-- The feed (issue 13, item 4): each booking event records the booking as its transaction
-- committed it and the holder as subscribers display them (`body`, JSON text written by the one
-- INSERT of the event), so listeners read nothing else; facts that end someone's access
-- (`ACCESS_ENDED`, no booking) travel on the same log, in the same transactions as the changes.
ALTER TABLE booking_events ALTER COLUMN booking_id DROP NOT NULL;
ALTER TABLE booking_events DROP CONSTRAINT booking_events_kind_check;
ALTER TABLE booking_events ADD CONSTRAINT booking_events_kind_check
    CHECK (kind IN ('CREATED', 'UPDATED', 'CANCELLED', 'ACCESS_ENDED'));
ALTER TABLE booking_events ADD COLUMN body text;
ALTER TABLE booking_events ADD CONSTRAINT booking_events_booking_check
    CHECK ((kind = 'ACCESS_ENDED') = (booking_id IS NULL));
