DROP TABLE IF EXISTS booking_events;
DROP TABLE IF EXISTS devices;
DROP INDEX IF EXISTS bookings_organization_id_start_at_idx;
DROP INDEX IF EXISTS bookings_site_id_start_at_idx;
