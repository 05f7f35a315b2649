DROP TABLE IF EXISTS outbox_emails;
DROP TABLE IF EXISTS password_resets;
DROP TABLE IF EXISTS invitations;
