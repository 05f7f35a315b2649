DELETE FROM outbox_emails WHERE kind = 'SECOND_FACTOR_RESET';
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED'));

DROP TABLE second_factor_policies;
DROP TABLE second_factors;
