use std::collections::{BTreeMap, BTreeSet};

use concierge_domain::ids::{OrganizationId, SiteGroupId, SiteId, UserId};
use concierge_domain::model::{Page, Profile, User, UserQuery};
use concierge_domain::storage::StorageResult;
use concierge_domain::values::Secret;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{
    Conn, concierge_user_site_group_ids, concierge_user_site_ids, convert, expect_one, lower, page,
    page_limit, strpos,
};
use crate::errors::IntoStorage;
use crate::rows::{Label, ProfileRow, UserRow};
use crate::schema::{profiles, user_site_groups, user_sites, users};

/// A user row with its direct site grants and site-group grants, each in id order (the sets'
/// canonical order), read in the same statement as the row.
pub(crate) type UserWithGrants = (UserRow, Vec<Uuid>, Vec<Uuid>);

/// The select clause of [`UserWithGrants`]: the row, then its grants as arrays.
#[allow(clippy::type_complexity)]
pub(crate) fn with_grants() -> (
    diesel::dsl::AsSelect<UserRow, Pg>,
    concierge_user_site_ids<users::id>,
    concierge_user_site_group_ids<users::id>,
) {
    (
        UserRow::as_select(),
        concierge_user_site_ids(users::id),
        concierge_user_site_group_ids(users::id),
    )
}

pub(crate) fn into_user((row, sites, groups): UserWithGrants) -> StorageResult<User> {
    row.into_user(
        sites.into_iter().map(SiteId).collect(),
        groups.into_iter().map(SiteGroupId).collect(),
    )
}

fn into_users(rows: Vec<UserWithGrants>) -> StorageResult<Vec<User>> {
    rows.into_iter().map(into_user).collect()
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
        .select(with_grants())
        .load::<UserWithGrants>(conn)
        .await
        .storage()?;
    into_users(rows)
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
        .select(with_grants())
        .load::<UserWithGrants>(conn)
        .await
        .storage()?;
    into_users(rows).map(|found| found.into_iter().next())
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
        .select(with_grants())
        .load::<UserWithGrants>(conn)
        .await
        .storage()?;
    into_users(rows).map(|found| found.into_iter().next())
}

/// Users with their profile: a page joins them (a user's profile is one row) so that listing
/// users and the profiles they hold is one statement.
type WithProfile = diesel::dsl::InnerJoinOn<
    users::table,
    profiles::table,
    diesel::dsl::Eq<profiles::id, users::profile_id>,
>;

/// Which of `logins` (lower-cased) are a user's e-mail or username: one statement, an array
/// parameter over the unique expression indexes.
pub(crate) async fn logins_taken(conn: &mut Conn, logins: &[String]) -> StorageResult<Vec<String>> {
    if logins.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<(Option<String>, Option<String>)> = users::table
        .filter(
            lower(users::email.assume_not_null())
                .eq_any(logins.to_vec())
                .or(lower(users::username.assume_not_null()).eq_any(logins.to_vec())),
        )
        .select((users::email, users::username))
        .load(conn)
        .await
        .storage()?;
    let held: BTreeSet<String> = held
        .into_iter()
        .flat_map(|(email, username)| [email, username])
        .flatten()
        .map(|login| login.to_lowercase())
        .collect();
    Ok(logins
        .iter()
        .filter(|l| held.contains(*l))
        .cloned()
        .collect())
}

/// Which of `hashes` are booking-code hashes of users of `organization`: one statement.
pub(crate) async fn booking_code_hashes_taken(
    conn: &mut Conn,
    organization: OrganizationId,
    hashes: &[String],
) -> StorageResult<Vec<String>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<Option<String>> = users::table
        .filter(users::organization_id.eq(organization.0))
        .filter(users::booking_code_hash.eq_any(hashes.to_vec()))
        .select(users::booking_code_hash)
        .load(conn)
        .await
        .storage()?;
    Ok(held.into_iter().flatten().collect())
}

/// The rows `query` selects, before keyset pagination.
fn matching(query: &UserQuery) -> diesel::dsl::IntoBoxed<'static, WithProfile, Pg> {
    let organization_ids: Vec<Uuid> = query.organization_ids.iter().map(|id| id.0).collect();
    let mut q = users::table
        .inner_join(profiles::table.on(profiles::id.eq(users::profile_id)))
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

/// A page of users (counted only when `count_total`) and, when `with_profiles`, the profiles
/// they hold, from the same statement.
pub(crate) async fn list(
    conn: &mut Conn,
    query: &UserQuery,
) -> StorageResult<(Page<User>, Vec<Profile>)> {
    let total_count: i64 = if query.count_total {
        matching(query).count().get_result(conn).await.storage()?
    } else {
        0
    };
    let mut q = matching(query);
    if let Some(after) = query.after {
        q = q.filter(users::id.gt(after.0));
    }
    let q = q.order(users::id).limit(page_limit(query.first));
    let (users, profiles) = if query.with_profiles {
        let (user, sites, groups) = with_grants();
        let rows: Vec<(UserRow, Vec<Uuid>, Vec<Uuid>, ProfileRow)> = q
            .select((user, sites, groups, ProfileRow::as_select()))
            .load(conn)
            .await
            .storage()?;
        let mut users = Vec::with_capacity(rows.len());
        let mut profiles: BTreeMap<Uuid, ProfileRow> = BTreeMap::new();
        for (user, sites, groups, profile) in rows {
            users.push(into_user((user, sites, groups))?);
            profiles.entry(profile.id).or_insert(profile);
        }
        (users, convert(profiles.into_values().collect())?)
    } else {
        let rows: Vec<UserWithGrants> = q.select(with_grants()).load(conn).await.storage()?;
        (into_users(rows)?, Vec::new())
    };
    Ok((page(users, query.first, total_count), profiles))
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
        .select(with_grants())
        .for_update()
        .load::<UserWithGrants>(conn)
        .await
        .storage()?;
    into_users(rows)
}

/// Users inserted by one statement: 1,000 rows of `UserRow`'s 21 columns are 21,000 bind
/// parameters, well under PostgreSQL's limit of 65,535.
const USERS_PER_INSERT: usize = 1_000;
/// Grant rows (two columns each) inserted by one statement.
const GRANTS_PER_INSERT: usize = 30_000;

/// Inserts new users and their site grants in a few statements whatever their number (bulk
/// import): the users in chunks, then every site grant, then every site-group grant.
pub(crate) async fn insert_many(conn: &mut Conn, new_users: &[User]) -> StorageResult<()> {
    let rows: Vec<UserRow> = new_users.iter().map(UserRow::from).collect();
    for chunk in rows.chunks(USERS_PER_INSERT) {
        diesel::insert_into(users::table)
            .values(chunk)
            .execute(conn)
            .await
            .storage()?;
    }
    // Grants are sets; a repeated id must not fail on the primary key.
    let sites: Vec<_> = new_users
        .iter()
        .flat_map(|user| {
            let ids: BTreeSet<Uuid> = user.site_ids.iter().map(|id| id.0).collect();
            ids.into_iter().map(move |site| {
                (
                    user_sites::user_id.eq(user.id.0),
                    user_sites::site_id.eq(site),
                )
            })
        })
        .collect();
    for chunk in sites.chunks(GRANTS_PER_INSERT) {
        diesel::insert_into(user_sites::table)
            .values(chunk)
            .execute(conn)
            .await
            .storage()?;
    }
    let groups: Vec<_> = new_users
        .iter()
        .flat_map(|user| {
            let ids: BTreeSet<Uuid> = user.site_group_ids.iter().map(|id| id.0).collect();
            ids.into_iter().map(move |group| {
                (
                    user_site_groups::user_id.eq(user.id.0),
                    user_site_groups::site_group_id.eq(group),
                )
            })
        })
        .collect();
    for chunk in groups.chunks(GRANTS_PER_INSERT) {
        diesel::insert_into(user_site_groups::table)
            .values(chunk)
            .execute(conn)
            .await
            .storage()?;
    }
    Ok(())
}
