DROP FUNCTION concierge_overlapping_booking_ids(uuid, timestamptz, timestamptz, timestamptz);
DROP FUNCTION concierge_user_site_groups_json(uuid);
DROP FUNCTION concierge_site_group_site_ids(uuid);
DROP FUNCTION concierge_user_site_group_ids(uuid);
DROP FUNCTION concierge_user_site_ids(uuid);
