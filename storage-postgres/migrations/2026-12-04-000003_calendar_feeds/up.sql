-- Calendar feeds: a secret iCalendar address of a person's bookings (room_id null) or of a
-- room's, stored as the keyed hash of its token only.
CREATE TABLE calendar_feeds (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id uuid REFERENCES rooms (id) ON DELETE CASCADE,
    token_hash text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT calendar_feeds_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX calendar_feeds_user ON calendar_feeds (user_id, id);

-- The e-mails of a booking to its holder, each carrying the meeting as iCalendar.
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET', 'BOOKING_RELEASED', 'SSO_WELCOME', 'SSO_LINKED',
                    'BOOKING_CONFIRMED', 'BOOKING_CHANGED', 'BOOKING_CANCELLED'));
