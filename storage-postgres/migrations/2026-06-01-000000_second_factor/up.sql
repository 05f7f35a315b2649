-- A second factor (TOTP, RFC 6238) per person, at most one: its key sealed by the server, the
-- last accepted time step (a code is accepted once), the keyed hashes of the unused recovery
-- codes, and the pending sign-in challenge (its keyed hash and expiry).
CREATE TABLE second_factors (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret text NOT NULL,
    confirmed_at timestamptz,
    last_used_step bigint,
    recovery_code_hashes text[] NOT NULL DEFAULT '{}',
    challenge_hash text,
    challenge_expires_at timestamptz,
    created_at timestamptz NOT NULL
);

-- An organization's rule that everyone managing people or clients signs in with a second factor.
CREATE TABLE second_factor_policies (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    required boolean NOT NULL
);

-- The e-mail telling a person that an administrator removed their second factor.
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET'));
