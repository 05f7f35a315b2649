ALTER TABLE bookings DROP COLUMN series_id;
DROP TABLE booking_series;
