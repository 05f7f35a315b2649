//! Single sign-on: organizations' providers, linked provider accounts, sign-ins under way.

use chrono::{DateTime, Utc};
use concierge_domain::ids::{OrganizationId, SiteId, SsoLoginId, UserId};
use concierge_domain::model::{
    PendingSsoLogins, SsoConnection, SsoIdentity, SsoLogin, SsoLoginStage, SsoProvisioning,
};
use concierge_domain::storage::{StorageError, StorageResult};
use concierge_domain::values::Secret;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::schema::{sso_connections, sso_identities, sso_logins};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sso_connections, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct ConnectionRow {
    organization_id: Uuid,
    issuer: String,
    client_id: String,
    sealed_client_secret: String,
    allowed_domains: Vec<String>,
    provisioning: String,
    default_site_id: Option<Uuid>,
    require_sso: bool,
    break_glass_user_ids: Vec<Uuid>,
    configured_by: Uuid,
    updated_at: DateTime<Utc>,
}

fn provisioning_text(p: SsoProvisioning) -> &'static str {
    match p {
        SsoProvisioning::CreatePerson => "CREATE_PERSON",
        SsoProvisioning::LinkOnly => "LINK_ONLY",
    }
}

impl From<&SsoConnection> for ConnectionRow {
    fn from(c: &SsoConnection) -> Self {
        ConnectionRow {
            organization_id: c.organization_id.0,
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            sealed_client_secret: c.sealed_client_secret.clone(),
            allowed_domains: c.allowed_domains.clone(),
            provisioning: provisioning_text(c.provisioning).to_owned(),
            default_site_id: c.default_site_id.map(|s| s.0),
            require_sso: c.require_sso,
            break_glass_user_ids: c.break_glass_user_ids.iter().map(|u| u.0).collect(),
            configured_by: c.configured_by.0,
            updated_at: c.updated_at,
        }
    }
}

impl TryFrom<ConnectionRow> for SsoConnection {
    type Error = StorageError;

    fn try_from(row: ConnectionRow) -> StorageResult<Self> {
        let provisioning = match row.provisioning.as_str() {
            "CREATE_PERSON" => SsoProvisioning::CreatePerson,
            "LINK_ONLY" => SsoProvisioning::LinkOnly,
            other => return Err(StorageError::Other(format!("unknown provisioning {other}"))),
        };
        Ok(SsoConnection {
            organization_id: OrganizationId(row.organization_id),
            issuer: row.issuer,
            client_id: row.client_id,
            sealed_client_secret: row.sealed_client_secret,
            allowed_domains: row.allowed_domains,
            provisioning,
            default_site_id: row.default_site_id.map(SiteId),
            require_sso: row.require_sso,
            break_glass_user_ids: row.break_glass_user_ids.into_iter().map(UserId).collect(),
            configured_by: UserId(row.configured_by),
            updated_at: row.updated_at,
        })
    }
}

pub(crate) async fn connection(
    conn: &mut Conn,
    organization: OrganizationId,
) -> StorageResult<Option<SsoConnection>> {
    let row = sso_connections::table
        .find(organization.0)
        .select(ConnectionRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(SsoConnection::try_from).transpose()
}

/// The organization's provider, locked until the transaction ends.
pub(crate) async fn lock_connection(
    conn: &mut Conn,
    organization: OrganizationId,
) -> StorageResult<Option<SsoConnection>> {
    let row = sso_connections::table
        .find(organization.0)
        .select(ConnectionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(SsoConnection::try_from).transpose()
}

pub(crate) async fn insert_connection(
    conn: &mut Conn,
    connection: &SsoConnection,
) -> StorageResult<()> {
    diesel::insert_into(sso_connections::table)
        .values(ConnectionRow::from(connection))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update_connection(
    conn: &mut Conn,
    connection: &SsoConnection,
) -> StorageResult<()> {
    let affected = diesel::update(sso_connections::table.find(connection.organization_id.0))
        .set(ConnectionRow::from(connection))
        .execute(conn)
        .await
        .storage()?;
    expect_one("single sign-on connection", affected)
}

pub(crate) async fn delete_connection(
    conn: &mut Conn,
    organization: OrganizationId,
) -> StorageResult<()> {
    diesel::delete(sso_connections::table.find(organization.0))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sso_identities, check_for_backend(diesel::pg::Pg))]
struct IdentityRow {
    issuer: String,
    subject: String,
    user_id: Uuid,
    organization_id: Uuid,
    created_at: DateTime<Utc>,
}

pub(crate) async fn identity(
    conn: &mut Conn,
    issuer: &str,
    subject: &str,
) -> StorageResult<Option<SsoIdentity>> {
    let row = sso_identities::table
        .find((issuer, subject))
        .select(IdentityRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(|r| SsoIdentity {
        issuer: r.issuer,
        subject: r.subject,
        user_id: UserId(r.user_id),
        organization_id: OrganizationId(r.organization_id),
        created_at: r.created_at,
    }))
}

pub(crate) async fn insert_identity(conn: &mut Conn, identity: &SsoIdentity) -> StorageResult<()> {
    diesel::insert_into(sso_identities::table)
        .values(IdentityRow {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            user_id: identity.user_id.0,
            organization_id: identity.organization_id.0,
            created_at: identity.created_at,
        })
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sso_logins, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct LoginRow {
    id: Uuid,
    organization_id: Uuid,
    stage: String,
    secret_hash: String,
    issuer: String,
    nonce: String,
    sealed_pkce_verifier: String,
    return_to: String,
    user_id: Option<Uuid>,
    client_address: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<&SsoLogin> for LoginRow {
    fn from(l: &SsoLogin) -> Self {
        LoginRow {
            id: l.id.0,
            organization_id: l.organization_id.0,
            stage: match l.stage {
                SsoLoginStage::AtProvider => "AT_PROVIDER",
                SsoLoginStage::SignedIn => "SIGNED_IN",
            }
            .to_owned(),
            secret_hash: l.secret_hash.expose().to_owned(),
            issuer: l.issuer.clone(),
            nonce: l.nonce.clone(),
            sealed_pkce_verifier: l.sealed_pkce_verifier.clone(),
            return_to: l.return_to.clone(),
            user_id: l.user_id.map(|u| u.0),
            client_address: l.client_address.clone(),
            created_at: l.created_at,
            expires_at: l.expires_at,
        }
    }
}

impl TryFrom<LoginRow> for SsoLogin {
    type Error = StorageError;

    fn try_from(row: LoginRow) -> StorageResult<Self> {
        let stage = match row.stage.as_str() {
            "AT_PROVIDER" => SsoLoginStage::AtProvider,
            "SIGNED_IN" => SsoLoginStage::SignedIn,
            other => {
                return Err(StorageError::Other(format!(
                    "unknown sign-in stage {other}"
                )));
            }
        };
        Ok(SsoLogin {
            id: SsoLoginId(row.id),
            organization_id: OrganizationId(row.organization_id),
            stage,
            secret_hash: Secret::new(row.secret_hash),
            issuer: row.issuer,
            nonce: row.nonce,
            sealed_pkce_verifier: row.sealed_pkce_verifier,
            return_to: row.return_to,
            user_id: row.user_id.map(UserId),
            client_address: row.client_address,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

pub(crate) async fn login_by_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<SsoLogin>> {
    let row = sso_logins::table
        .filter(sso_logins::secret_hash.eq(hash))
        .select(LoginRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(SsoLogin::try_from).transpose()
}

/// The sign-in of `hash`, locked until the transaction ends: of two uses of one secret, the
/// second waits and then finds the secret replaced or the row gone.
pub(crate) async fn lock_login_by_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<SsoLogin>> {
    let row = sso_logins::table
        .filter(sso_logins::secret_hash.eq(hash))
        .select(LoginRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(SsoLogin::try_from).transpose()
}

pub(crate) async fn insert_login(conn: &mut Conn, login: &SsoLogin) -> StorageResult<()> {
    diesel::insert_into(sso_logins::table)
        .values(LoginRow::from(login))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update_login(conn: &mut Conn, login: &SsoLogin) -> StorageResult<()> {
    let affected = diesel::update(sso_logins::table.find(login.id.0))
        .set(LoginRow::from(login))
        .execute(conn)
        .await
        .storage()?;
    expect_one("single sign-on", affected)
}

pub(crate) async fn delete_login(conn: &mut Conn, id: SsoLoginId) -> StorageResult<()> {
    diesel::delete(sso_logins::table.find(id.0))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

/// Deletes the organization's sign-ins expired at `now` and counts the others, all and those
/// from `address`, in one statement (the count reads the snapshot before the delete, so it
/// filters the expired out itself).
pub(crate) async fn sweep_logins(
    conn: &mut Conn,
    organization: OrganizationId,
    now: DateTime<Utc>,
    address: Option<&str>,
) -> StorageResult<PendingSsoLogins> {
    let (total, from_address): (i64, i64) = SweepLogins {
        organization: organization.0,
        now,
        address: address.map(str::to_owned),
    }
    .get_result(conn)
    .await
    .storage()?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(PendingSsoLogins {
        total: count(total),
        from_address: count(from_address),
    })
}

/// The statement of [`sweep_logins`]: of fixed text, so prepared once per connection.
#[derive(QueryId)]
struct SweepLogins {
    organization: Uuid,
    now: DateTime<Utc>,
    address: Option<String>,
}

impl Query for SweepLogins {
    type SqlType = (BigInt, BigInt);
}

impl QueryFragment<Pg> for SweepLogins {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH swept AS (DELETE FROM sso_logins WHERE organization_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.organization)?;
        out.push_sql(" AND expires_at < ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(") SELECT count(*), count(*) FILTER (WHERE client_address = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.address)?;
        out.push_sql(") FROM sso_logins WHERE organization_id = ");
        out.push_bind_param::<SqlUuid, _>(&self.organization)?;
        out.push_sql(" AND expires_at >= ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        Ok(())
    }
}
