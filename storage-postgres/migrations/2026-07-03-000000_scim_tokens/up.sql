-- SCIM provisioning tokens (RFC 7644): a directory's bearer token for one organization, stored
-- as its keyed hash only. The scope (profile, site group, site) is checked by the domain when
-- the token is created and again at each use; it carries no foreign key, so that what the
-- domain decides about a removed profile is the same on every backend.
CREATE TABLE scim_tokens (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    token_hash text NOT NULL,
    profile_id uuid NOT NULL,
    site_group_id uuid,
    site_id uuid,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT scim_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX scim_tokens_organization ON scim_tokens (organization_id, id);
