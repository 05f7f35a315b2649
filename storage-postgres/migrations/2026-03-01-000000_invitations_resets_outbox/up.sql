-- Links sent by e-mail (invitations, password resets) and the transactional outbox that carries
-- every message Concierge sends. Ids are UUIDv7, so ORDER BY id is creation order.

-- An invitation lets an invited person choose a password; single-use and expiring. Only the
-- hash of its token is kept.
CREATE TABLE invitations (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) DEFERRABLE INITIALLY DEFERRED,
    user_id uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    email text NOT NULL,
    token_hash text NOT NULL CONSTRAINT invitations_token_hash_key UNIQUE,
    accepted_at timestamptz,
    revoked_at timestamptz,
    expires_at timestamptz NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL
);
CREATE INDEX invitations_organization_id_idx ON invitations (organization_id, id);
CREATE INDEX invitations_user_id_idx ON invitations (user_id, id);

-- A password-reset link; single-use and expiring, its token kept hashed. Token hashes are
-- unique within each table; both stand for `UniqueKey::LinkToken` (tokens are random, so an
-- invitation and a reset never share one in practice).
CREATE TABLE password_resets (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    token_hash text NOT NULL CONSTRAINT password_resets_token_hash_key UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);

-- The outbox: a message is written in the transaction of the change that causes it, and sent
-- afterwards by a worker. Workers claim due messages with FOR UPDATE SKIP LOCKED and push
-- `next_attempt_at` forward (a lease), so replicas never send one message twice at once.
CREATE TABLE outbox_emails (
    id uuid PRIMARY KEY,
    -- NULL: a message of no organization in particular (e.g. to the platform operator).
    organization_id uuid REFERENCES organizations (id) DEFERRABLE INITIALLY DEFERRED,
    recipient text NOT NULL,
    language text NOT NULL CHECK (language IN ('en', 'fr')),
    kind text NOT NULL CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED')),
    -- Sealed by the application (the parameters may hold secrets); emptied once delivered.
    sealed_params text NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL
);
-- What workers claim: undelivered messages by due time. Also counts the backlog.
CREATE INDEX outbox_emails_due_idx ON outbox_emails (next_attempt_at, id) WHERE sent_at IS NULL;
