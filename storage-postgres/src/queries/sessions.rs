use chrono::{DateTime, Utc};
use concierge_domain::ids::{SessionId, SiteId};
use concierge_domain::model::{Organization, Profile, Session, SessionWithPerson, SiteGroup};
use concierge_domain::storage::{StorageError, StorageResult};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::users::{into_user, with_grants};
use super::{Conn, concierge_user_site_groups_json, expect_one};
use crate::errors::IntoStorage;
use crate::rows::{OrganizationRow, ProfileRow, SessionRow, SiteGroupRow, UserRow};
use crate::schema::{
    organizations, profiles, second_factor_policies, second_factors, sessions, users,
};

#[derive(serde::Deserialize)]
struct SiteGroupJson {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    site_ids: Vec<Uuid>,
}

type PersonRow = (
    SessionRow,
    UserRow,
    Vec<Uuid>,
    Vec<Uuid>,
    OrganizationRow,
    ProfileRow,
    Option<bool>,
    Option<DateTime<Utc>>,
    String,
);

/// The session with its person, their organization, profile, site groups and second-factor
/// facts: one statement.
pub(crate) async fn with_person(
    conn: &mut Conn,
    id: SessionId,
) -> StorageResult<Option<SessionWithPerson>> {
    let (user, granted_sites, granted_groups) = with_grants();
    let row: Option<PersonRow> = sessions::table
        .inner_join(users::table.on(users::id.eq(sessions::user_id)))
        .inner_join(organizations::table.on(organizations::id.eq(users::organization_id)))
        .inner_join(profiles::table.on(profiles::id.eq(users::profile_id)))
        .left_join(
            second_factor_policies::table
                .on(second_factor_policies::organization_id.eq(users::organization_id)),
        )
        .left_join(second_factors::table.on(second_factors::user_id.eq(users::id)))
        .filter(sessions::id.eq(id.0))
        .select((
            SessionRow::as_select(),
            user,
            granted_sites,
            granted_groups,
            OrganizationRow::as_select(),
            ProfileRow::as_select(),
            second_factor_policies::required.nullable(),
            second_factors::confirmed_at.nullable(),
            concierge_user_site_groups_json(users::id),
        ))
        .first(conn)
        .await
        .optional()
        .storage()?;
    let Some((
        session,
        user,
        sites,
        group_ids,
        organization,
        profile,
        required,
        confirmed_at,
        groups,
    )) = row
    else {
        return Ok(None);
    };
    let groups: Vec<SiteGroupJson> = serde_json::from_str(&groups)
        .map_err(|e| StorageError::Other(format!("unreadable site groups of a user: {e}")))?;
    let site_groups = groups
        .into_iter()
        .map(|g| {
            SiteGroupRow {
                id: g.id,
                organization_id: g.organization_id,
                name: g.name,
                created_at: g.created_at,
            }
            .into_site_group(g.site_ids.into_iter().map(SiteId).collect())
        })
        .collect::<StorageResult<Vec<SiteGroup>>>()?;
    Ok(Some(SessionWithPerson {
        session: Session::from(session),
        user: into_user((user, sites, group_ids))?,
        organization: Organization::try_from(organization)?,
        profile: Profile::try_from(profile)?,
        site_groups,
        second_factor_required: required.unwrap_or(false),
        second_factor_confirmed: confirmed_at.is_some(),
    }))
}

pub(crate) async fn by_id(conn: &mut Conn, id: SessionId) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .find(id.0)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

pub(crate) async fn by_token_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .filter(
            sessions::refresh_token_hash
                .eq(hash)
                .or(sessions::previous_token_hash.eq(hash)),
        )
        .order(sessions::id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

pub(crate) async fn insert(conn: &mut Conn, session: &Session) -> StorageResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow::from(session))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, session: &Session) -> StorageResult<()> {
    let affected = diesel::update(sessions::table.find(session.id.0))
        .set(SessionRow::from(session))
        .execute(conn)
        .await
        .storage()?;
    expect_one("session", affected)
}

/// The session of `id`, locked until the transaction ends.
pub(crate) async fn lock(conn: &mut Conn, id: SessionId) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .find(id.0)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

/// The session whose current or previous refresh-token hash is `hash`, locked. Once the lock is
/// granted the row is read again, so a rotation committed meanwhile is seen: the hash that was
/// current may then be the previous one.
pub(crate) async fn lock_by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .filter(
            sessions::refresh_token_hash
                .eq(hash)
                .or(sessions::previous_token_hash.eq(hash)),
        )
        .order(sessions::id)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}
