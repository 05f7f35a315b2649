ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET', 'BOOKING_RELEASED', 'SSO_WELCOME', 'SSO_LINKED'));
DROP TABLE calendar_feeds;
