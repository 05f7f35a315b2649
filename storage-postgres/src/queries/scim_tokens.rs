//! SCIM provisioning tokens.

use chrono::{DateTime, Utc};
use concierge_domain::ids::{OrganizationId, ProfileId, ScimTokenId, SiteGroupId, SiteId, UserId};
use concierge_domain::model::ScimToken;
use concierge_domain::storage::{StorageError, StorageResult};
use concierge_domain::values::{Name, Secret};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one};
use crate::errors::IntoStorage;
use crate::schema::scim_tokens;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = scim_tokens, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct ScimTokenRow {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    token_hash: String,
    profile_id: Uuid,
    site_group_id: Option<Uuid>,
    site_id: Option<Uuid>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&ScimToken> for ScimTokenRow {
    fn from(t: &ScimToken) -> Self {
        ScimTokenRow {
            id: t.id.0,
            organization_id: t.organization_id.0,
            name: t.name.to_string(),
            token_hash: t.token_hash.expose().to_owned(),
            profile_id: t.profile_id.0,
            site_group_id: t.site_group_id.map(|g| g.0),
            site_id: t.site_id.map(|s| s.0),
            created_by: t.created_by.0,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

impl TryFrom<ScimTokenRow> for ScimToken {
    type Error = StorageError;

    fn try_from(row: ScimTokenRow) -> StorageResult<Self> {
        Ok(ScimToken {
            id: ScimTokenId(row.id),
            organization_id: OrganizationId(row.organization_id),
            name: Name::parse("name", &row.name)
                .map_err(|e| StorageError::Other(format!("corrupt SCIM token name: {e}")))?,
            token_hash: Secret::new(row.token_hash),
            profile_id: ProfileId(row.profile_id),
            site_group_id: row.site_group_id.map(SiteGroupId),
            site_id: row.site_id.map(SiteId),
            created_by: UserId(row.created_by),
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

pub(crate) async fn by_id(conn: &mut Conn, id: ScimTokenId) -> StorageResult<Option<ScimToken>> {
    let row = scim_tokens::table
        .find(id.0)
        .select(ScimTokenRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(ScimToken::try_from).transpose()
}

pub(crate) async fn by_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<ScimToken>> {
    let row = scim_tokens::table
        .filter(scim_tokens::token_hash.eq(hash))
        .select(ScimTokenRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(ScimToken::try_from).transpose()
}

pub(crate) async fn of_organization(
    conn: &mut Conn,
    organization: OrganizationId,
) -> StorageResult<Vec<ScimToken>> {
    let rows = scim_tokens::table
        .filter(scim_tokens::organization_id.eq(organization.0))
        .order(scim_tokens::id)
        .select(ScimTokenRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: ScimTokenId) -> StorageResult<Option<ScimToken>> {
    let row = scim_tokens::table
        .find(id.0)
        .select(ScimTokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(ScimToken::try_from).transpose()
}

pub(crate) async fn insert(conn: &mut Conn, token: &ScimToken) -> StorageResult<()> {
    diesel::insert_into(scim_tokens::table)
        .values(ScimTokenRow::from(token))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, token: &ScimToken) -> StorageResult<()> {
    let affected = diesel::update(scim_tokens::table.find(token.id.0))
        .set(ScimTokenRow::from(token))
        .execute(conn)
        .await
        .storage()?;
    expect_one("SCIM token", affected)
}
