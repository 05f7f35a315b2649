-- A message given up by the delivery worker is marked so explicitly (`abandoned_at`), instead of
-- by a `next_attempt_at` in year 9999. Such a message is never claimed again, leaves the backlog,
-- and does not keep its sealed parameters (they may hold a temporary password or a link).
ALTER TABLE outbox_emails ADD COLUMN abandoned_at timestamptz;

-- Messages given up before this migration: undelivered, never due again (the old sentinel was
-- 9999-12-31T23:59:59Z). Their parameters are wiped, as the worker now does when it gives up, and
-- the sentinel goes: `next_attempt_at` means nothing for an abandoned message.
UPDATE outbox_emails
SET abandoned_at = now(),
    next_attempt_at = now(),
    sealed_params = ''
WHERE sent_at IS NULL
  AND abandoned_at IS NULL
  AND next_attempt_at >= TIMESTAMPTZ '9999-01-01 00:00:00+00';

-- What workers claim, and the backlog: messages neither sent nor abandoned, by due time.
DROP INDEX outbox_emails_due_idx;
CREATE INDEX outbox_emails_due_idx ON outbox_emails (next_attempt_at, id)
    WHERE sent_at IS NULL AND abandoned_at IS NULL;
