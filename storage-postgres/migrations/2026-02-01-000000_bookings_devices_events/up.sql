-- Booking storage: the indexes behind every booking list filter, room tablets, and the log that
-- carries booking events to every server on this database (LISTEN/NOTIFY wakes them up; the log
-- lets a listener that lost its connection replay what was committed meanwhile).
--
-- `bookings` itself (created with the initial schema, with its no-overlap exclusion constraint)
-- already has a column for every field of a booking.

-- Lists are ordered by (start_at, id) within each filter.
CREATE INDEX bookings_site_id_start_at_idx ON bookings (site_id, start_at, id);
CREATE INDEX bookings_organization_id_start_at_idx ON bookings (organization_id, start_at, id);
-- (room_id, start_at) and (user_id, start_at) exist since the initial schema.

CREATE TABLE devices (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) DEFERRABLE INITIALLY DEFERRED,
    site_id uuid NOT NULL REFERENCES sites (id) DEFERRABLE INITIALLY DEFERRED,
    -- A device scoped to one room; NULL: to its whole site.
    room_id uuid REFERENCES rooms (id) DEFERRABLE INITIALLY DEFERRED,
    name text NOT NULL,
    token_hash text NOT NULL CONSTRAINT devices_token_hash_key UNIQUE,
    registered_by uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX devices_organization_id_idx ON devices (organization_id, id);
CREATE INDEX devices_site_id_idx ON devices (site_id, id);

-- Committed booking changes, in commit order: writers take a transaction-level advisory lock
-- before drawing `seq`, so a larger `seq` never commits before a smaller one.
CREATE TABLE booking_events (
    seq bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('CREATED', 'UPDATED', 'CANCELLED')),
    booking_id uuid NOT NULL REFERENCES bookings (id) DEFERRABLE INITIALLY DEFERRED,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_events_booking_id_idx ON booking_events (booking_id);
