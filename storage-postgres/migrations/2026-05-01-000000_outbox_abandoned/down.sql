-- Back to the sentinel: an abandoned message is left unsent and never due (9999-12-31T23:59:59Z,
-- what the worker used to write). Wiped parameters stay wiped; when it was given up is lost.
UPDATE outbox_emails
SET next_attempt_at = TIMESTAMPTZ '9999-12-31 23:59:59+00'
WHERE abandoned_at IS NOT NULL
  AND sent_at IS NULL;

DROP INDEX outbox_emails_due_idx;
CREATE INDEX outbox_emails_due_idx ON outbox_emails (next_attempt_at, id) WHERE sent_at IS NULL;

ALTER TABLE outbox_emails DROP COLUMN abandoned_at;
