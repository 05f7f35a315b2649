//! Every read and write as a function of one connection, so the store (a pooled connection per
//! call) and a transaction (its own connection) share one implementation.

pub(crate) mod audit;
pub(crate) mod booking_events;
pub(crate) mod booking_series;
pub(crate) mod bookings;
pub(crate) mod calendar_feeds;
pub(crate) mod devices;
pub(crate) mod emails;
pub(crate) mod invitations;
pub(crate) mod organizations;
pub(crate) mod password_resets;
pub(crate) mod price_lists;
pub(crate) mod profiles;
pub(crate) mod rooms;
pub(crate) mod scim_tokens;
pub(crate) mod second_factors;
pub(crate) mod sessions;
pub(crate) mod single_sign_on;
pub(crate) mod site_groups;
pub(crate) mod sites;
pub(crate) mod users;

use concierge_domain::model::Page;
use concierge_domain::storage::{StorageError, StorageResult};

pub(crate) type Conn = diesel_async::AsyncPgConnection;

#[diesel::declare_sql_function]
extern "SQL" {
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
    fn strpos(
        haystack: diesel::sql_types::Text,
        needle: diesel::sql_types::Text,
    ) -> diesel::sql_types::Integer;
}

// Row-shaping functions of the migration `read_functions`: typed, so that the statements using
// them keep a fixed text and are prepared once per connection (SQL literals never are).
#[diesel::declare_sql_function]
extern "SQL" {
    fn concierge_user_site_ids(
        user_id: diesel::sql_types::Uuid,
    ) -> diesel::sql_types::Array<diesel::sql_types::Uuid>;
    fn concierge_user_site_group_ids(
        user_id: diesel::sql_types::Uuid,
    ) -> diesel::sql_types::Array<diesel::sql_types::Uuid>;
    fn concierge_site_group_site_ids(
        site_group_id: diesel::sql_types::Uuid,
    ) -> diesel::sql_types::Array<diesel::sql_types::Uuid>;
    fn concierge_user_site_groups_json(user_id: diesel::sql_types::Uuid)
    -> diesel::sql_types::Text;
    fn concierge_overlapping_booking_ids(
        room_id: diesel::sql_types::Uuid,
        earliest: diesel::sql_types::Timestamptz,
        from_at: diesel::sql_types::Timestamptz,
        to_at: diesel::sql_types::Timestamptz,
    ) -> diesel::sql_types::Array<diesel::sql_types::Uuid>;
}

/// Rows to fetch for a page of `first`: one more tells whether a next page exists.
pub(crate) fn page_limit(first: usize) -> i64 {
    i64::try_from(first)
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1)
}

/// Cuts the extra row fetched by [`page_limit`] off into `has_next_page`.
pub(crate) fn page<T>(mut items: Vec<T>, first: usize, total_count: i64) -> Page<T> {
    let has_next_page = items.len() > first;
    items.truncate(first);
    Page {
        items,
        has_next_page,
        total_count,
    }
}

/// Converts every row, failing on the first that does not hold valid values.
pub(crate) fn convert<R, T>(rows: Vec<R>) -> StorageResult<Vec<T>>
where
    T: TryFrom<R, Error = StorageError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// An update that touched no row: the entity was never inserted.
pub(crate) fn expect_one(what: &str, affected: usize) -> StorageResult<()> {
    if affected == 0 {
        Err(StorageError::Other(format!(
            "{what} to update does not exist"
        )))
    } else {
        Ok(())
    }
}
