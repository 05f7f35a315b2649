-- The no-overlap rule holds for the result of each statement, not row by row: a statement
-- that moves several bookings at once (the following occurrences of a series one week later,
-- each onto the slot the next one leaves) is checked once all its rows are written, as the SQL
-- standard says. DEFERRABLE INITIALLY IMMEDIATE does that (PostgreSQL checks a non-deferrable
-- constraint row by row); nothing ever defers it further.
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    room_id WITH =,
    tstzrange(start_at, end_at, '[)') WITH &&
) WHERE (status = 'CONFIRMED') DEFERRABLE INITIALLY IMMEDIATE;
