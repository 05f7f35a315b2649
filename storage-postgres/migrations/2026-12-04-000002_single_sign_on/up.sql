-- Single sign-on through an organization's OpenID Connect provider.

-- One provider per organization. The client secret is sealed by the domain (never in clear);
-- the default site and the break-glass administrators carry no foreign key, as for SCIM
-- tokens: the domain checks them when the connection is saved and when they are used (a
-- break-glass administrator keeps a password only while their profile manages users).
CREATE TABLE sso_connections (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer text NOT NULL,
    client_id text NOT NULL,
    sealed_client_secret text NOT NULL,
    allowed_domains text[] NOT NULL,
    provisioning text NOT NULL CHECK (provisioning IN ('CREATE_PERSON', 'LINK_ONLY')),
    default_site_id uuid,
    require_sso boolean NOT NULL,
    break_glass_user_ids uuid[] NOT NULL,
    configured_by uuid NOT NULL REFERENCES users (id),
    updated_at timestamptz NOT NULL
);

-- A provider's account (iss, sub) linked to one person.
CREATE TABLE sso_identities (
    issuer text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX sso_identities_user ON sso_identities (user_id);

-- Sign-ins under way, found by the keyed hash of their current secret (the state sent to the
-- provider, then the one-time code handed to the front end); deleted once exchanged.
CREATE TABLE sso_logins (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    stage text NOT NULL CHECK (stage IN ('AT_PROVIDER', 'SIGNED_IN')),
    secret_hash text NOT NULL,
    issuer text NOT NULL,
    nonce text NOT NULL,
    sealed_pkce_verifier text NOT NULL,
    return_to text NOT NULL,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    -- Where the sign-in was started from: pending sign-ins are limited per address.
    client_address text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT sso_logins_secret_hash_key UNIQUE (secret_hash)
);

CREATE INDEX sso_logins_expiry ON sso_logins (organization_id, expires_at);

-- The e-mails of a person created or linked at a sign-in through the provider.
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check
    CHECK (kind IN ('CREDENTIALS', 'INVITATION', 'PASSWORD_RESET', 'PASSWORD_CHANGED',
                    'SECOND_FACTOR_RESET', 'BOOKING_RELEASED', 'SSO_WELCOME', 'SSO_LINKED'));
