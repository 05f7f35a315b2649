DROP TABLE IF EXISTS throttle_attempts;
