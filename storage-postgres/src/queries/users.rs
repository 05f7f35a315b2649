use std::collections::{BTreeSet, HashMap};

use concierge_domain::ids::{OrganizationId, SiteGroupId, SiteId, UserId};
use concierge_domain::model::{Page, User, UserQuery};
use concierge_domain::storage::StorageResult;
use concierge_domain::values::Secret;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, expect_one, lower, page, page_limit, strpos};
use crate::errors::IntoStorage;
use crate::rows::{Label, UserRow};
use crate::schema::{user_site_groups, user_sites, users};

/// Attaches their site grants to `rows`: both join tables in one query for the whole batch.
async fn with_grants(conn: &mut Conn, rows: Vec<UserRow>) -> StorageResult<Vec<User>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    // (user, granted id, whether it is a group); ordered so each user's sets come out sorted.
    let grants: Vec<(Uuid, Uuid, bool)> = user_sites::table
        .filter(user_sites::user_id.eq_any(ids.clone()))
        .select((
            user_sites::user_id,
            user_sites::site_id,
            false.into_sql::<Bool>(),
        ))
        .union_all(
            user_site_groups::table
                .filter(user_site_groups::user_id.eq_any(ids))
                .select((
                    user_site_groups::user_id,
                    user_site_groups::site_group_id,
                    true.into_sql::<Bool>(),
                )),
        )
        .load(conn)
        .await
        .storage()?;
    let mut sites_of: HashMap<Uuid, BTreeSet<SiteId>> = HashMap::new();
    let mut groups_of: HashMap<Uuid, BTreeSet<SiteGroupId>> = HashMap::new();
    for (user, granted, is_group) in grants {
        if is_group {
            groups_of
                .entry(user)
                .or_default()
                .insert(SiteGroupId(granted));
        } else {
            sites_of.entry(user).or_default().insert(SiteId(granted));
        }
    }
    rows.into_iter()
        .map(|row| {
            let sites = sites_of
                .remove(&row.id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            let groups = groups_of
                .remove(&row.id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            row.into_user(sites, groups)
        })
        .collect()
}

pub(crate) async fn by_id(conn: &mut Conn, id: UserId) -> StorageResult<Option<User>> {
    by_ids(conn, &[id])
        .await
        .map(|found| found.into_iter().next())
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[UserId]) -> StorageResult<Vec<User>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select(UserRow::as_select())
        .load(conn)
        .await
        .storage()?;
    with_grants(conn, rows).await
}

pub(crate) async fn by_login(conn: &mut Conn, login: &str) -> StorageResult<Option<User>> {
    let rows = users::table
        // Stored logins are lower-case, so `lower(column)` equals the column and lets the
        // unique expression indexes serve the lookup.
        .filter(
            lower(users::email.assume_not_null())
                .eq(login)
                .or(lower(users::username.assume_not_null()).eq(login)),
        )
        .order(users::id)
        .limit(1)
        .select(UserRow::as_select())
        .load(conn)
        .await
        .storage()?;
    with_grants(conn, rows)
        .await
        .map(|found| found.into_iter().next())
}

pub(crate) async fn by_booking_code(
    conn: &mut Conn,
    organization: OrganizationId,
    hash: &str,
) -> StorageResult<Option<User>> {
    let rows = users::table
        .filter(users::organization_id.eq(organization.0))
        .filter(users::booking_code_hash.eq(hash))
        .limit(1)
        .select(UserRow::as_select())
        .load(conn)
        .await
        .storage()?;
    with_grants(conn, rows)
        .await
        .map(|found| found.into_iter().next())
}

/// The rows `query` selects, before keyset pagination.
fn matching(query: &UserQuery) -> users::BoxedQuery<'static, Pg> {
    let organization_ids: Vec<Uuid> = query.organization_ids.iter().map(|id| id.0).collect();
    let mut q = users::table
        .into_boxed()
        .filter(users::organization_id.eq_any(organization_ids));
    if let Some(search) = &query.search {
        // Names are matched on their lower-cased copies; e-mails and usernames are stored
        // lower-case. `x IS NOT NULL AND …` keeps the result a plain boolean for those.
        q = q.filter(
            strpos(users::first_name_lower, search.clone())
                .gt(0)
                .or(strpos(users::last_name_lower, search.clone()).gt(0))
                .or(users::email
                    .is_not_null()
                    .and(strpos(users::email.assume_not_null(), search.clone()).gt(0)))
                .or(users::username
                    .is_not_null()
                    .and(strpos(users::username.assume_not_null(), search.clone()).gt(0))),
        );
    }
    if let Some(status) = query.status {
        q = q.filter(users::status.eq(status.label()));
    }
    if let Some(profile) = query.profile_id {
        q = q.filter(users::profile_id.eq(profile.0));
    }
    if let Some((site, groups)) = &query.site {
        let direct = user_sites::table
            .filter(user_sites::site_id.eq(site.0))
            .select(user_sites::user_id);
        let groups: Vec<Uuid> = groups.iter().map(|id| id.0).collect();
        let through_groups = user_site_groups::table
            .filter(user_site_groups::site_group_id.eq_any(groups))
            .select(user_site_groups::user_id);
        q = q.filter(
            users::id
                .eq_any(direct)
                .or(users::id.eq_any(through_groups)),
        );
    }
    q
}

pub(crate) async fn list(conn: &mut Conn, query: &UserQuery) -> StorageResult<Page<User>> {
    let total_count: i64 = matching(query).count().get_result(conn).await.storage()?;
    let mut q = matching(query);
    if let Some(after) = query.after {
        q = q.filter(users::id.gt(after.0));
    }
    let rows = q
        .order(users::id)
        .limit(page_limit(query.first))
        .select(UserRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(page(
        with_grants(conn, rows).await?,
        query.first,
        total_count,
    ))
}

async fn insert_grants(conn: &mut Conn, user: &User) -> StorageResult<()> {
    // Grants are sets; a repeated id must not fail on the primary key.
    let sites: BTreeSet<Uuid> = user.site_ids.iter().map(|id| id.0).collect();
    let groups: BTreeSet<Uuid> = user.site_group_ids.iter().map(|id| id.0).collect();
    if !sites.is_empty() {
        let values: Vec<_> = sites
            .into_iter()
            .map(|site| {
                (
                    user_sites::user_id.eq(user.id.0),
                    user_sites::site_id.eq(site),
                )
            })
            .collect();
        diesel::insert_into(user_sites::table)
            .values(values)
            .execute(conn)
            .await
            .storage()?;
    }
    if !groups.is_empty() {
        let values: Vec<_> = groups
            .into_iter()
            .map(|group| {
                (
                    user_site_groups::user_id.eq(user.id.0),
                    user_site_groups::site_group_id.eq(group),
                )
            })
            .collect();
        diesel::insert_into(user_site_groups::table)
            .values(values)
            .execute(conn)
            .await
            .storage()?;
    }
    Ok(())
}

pub(crate) async fn insert(conn: &mut Conn, user: &User) -> StorageResult<()> {
    diesel::insert_into(users::table)
        .values(UserRow::from(user))
        .execute(conn)
        .await
        .storage()?;
    insert_grants(conn, user).await
}

pub(crate) async fn update(conn: &mut Conn, user: &User) -> StorageResult<()> {
    let affected = diesel::update(users::table.find(user.id.0))
        .set(UserRow::from(user))
        .execute(conn)
        .await
        .storage()?;
    expect_one("user", affected)?;
    diesel::delete(user_sites::table.filter(user_sites::user_id.eq(user.id.0)))
        .execute(conn)
        .await
        .storage()?;
    diesel::delete(user_site_groups::table.filter(user_site_groups::user_id.eq(user.id.0)))
        .execute(conn)
        .await
        .storage()?;
    insert_grants(conn, user).await
}

/// Compare-and-set of the booking-code hash alone: `to` only where it still is `from`, every
/// other column (status, grants) untouched. `true` if the row changed.
pub(crate) async fn replace_booking_code_hash(
    conn: &mut Conn,
    id: UserId,
    from: &Secret,
    to: &Secret,
) -> StorageResult<bool> {
    let affected = diesel::update(
        users::table
            .find(id.0)
            .filter(users::booking_code_hash.eq(from.expose())),
    )
    .set(users::booking_code_hash.eq(to.expose()))
    .execute(conn)
    .await
    .storage()?;
    Ok(affected > 0)
}

/// The users of `ids`, locked in id order until the transaction ends (their site grants change
/// only with them).
pub(crate) async fn lock(conn: &mut Conn, ids: &[UserId]) -> StorageResult<Vec<User>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select(UserRow::as_select())
        .for_update()
        .load(conn)
        .await
        .storage()?;
    with_grants(conn, rows).await
}
