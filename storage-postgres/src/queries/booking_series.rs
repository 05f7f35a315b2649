//! Recurring booking series (`booking_series`) and their occurrences (`bookings.series_id`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};
use concierge_domain::ids::{BookingSeriesId, OrganizationId, RoomId, SiteId, UserId};
use concierge_domain::model::{Booking, BookingSeries};
use concierge_domain::recurrence::{
    Frequency, RecurrenceEnd, RecurrenceRule, RuleInput, weekday_code,
};
use concierge_domain::storage::StorageResult;
use concierge_domain::values::TimeZone;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, Date, Int4, Nullable, Text, Timestamp, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert};
use crate::errors::{IntoStorage, corrupt};
use crate::rows::{BookingRow, Label};
use crate::schema::{booking_series, bookings};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_series, check_for_backend(diesel::pg::Pg))]
struct SeriesRow {
    id: Uuid,
    organization_id: Uuid,
    room_id: Uuid,
    site_id: Uuid,
    user_id: Uuid,
    created_by: Uuid,
    title: Option<String>,
    frequency: String,
    interval: i32,
    by_day: Vec<String>,
    by_month_day: Vec<i32>,
    until: Option<NaiveDate>,
    count: Option<i32>,
    local_start: NaiveDateTime,
    duration_minutes: i32,
    time_zone: String,
    skipped: Vec<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

const FREQUENCIES: [Frequency; 3] = [Frequency::Daily, Frequency::Weekly, Frequency::Monthly];

impl TryFrom<SeriesRow> for BookingSeries {
    type Error = concierge_domain::storage::StorageError;

    fn try_from(row: SeriesRow) -> StorageResult<Self> {
        let frequency = FREQUENCIES
            .into_iter()
            .find(|f| f.rfc5545() == row.frequency)
            .ok_or_else(|| corrupt("series frequency", &row.frequency))?;
        let by_day = row
            .by_day
            .iter()
            .map(|code| {
                WEEKDAYS
                    .into_iter()
                    .find(|d| weekday_code(*d) == code)
                    .ok_or_else(|| corrupt("series weekday", code))
            })
            .collect::<StorageResult<Vec<Weekday>>>()?;
        let rule = RecurrenceRule::parse(RuleInput {
            frequency: Some(frequency),
            interval: Some(row.interval),
            by_day,
            by_month_day: row.by_month_day,
            until: row.until,
            count: row.count,
        })
        .map_err(|e| corrupt("series rule", e))?;
        Ok(BookingSeries {
            id: BookingSeriesId(row.id),
            organization_id: OrganizationId(row.organization_id),
            room_id: RoomId(row.room_id),
            site_id: SiteId(row.site_id),
            user_id: UserId(row.user_id),
            created_by: UserId(row.created_by),
            title: row.title,
            rule,
            local_start: row.local_start,
            duration_minutes: row.duration_minutes,
            time_zone: TimeZone::parse("time_zone", &row.time_zone)
                .map_err(|e| corrupt("series time zone", e))?,
            skipped: row.skipped,
            created_at: row.created_at,
        })
    }
}

pub(crate) async fn by_id(
    conn: &mut Conn,
    id: BookingSeriesId,
) -> StorageResult<Option<BookingSeries>> {
    let row = booking_series::table
        .find(id.0)
        .select(SeriesRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(BookingSeries::try_from).transpose()
}

pub(crate) async fn by_ids(
    conn: &mut Conn,
    ids: &[BookingSeriesId],
) -> StorageResult<Vec<BookingSeries>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = booking_series::table
        .filter(booking_series::id.eq_any(ids))
        .order(booking_series::id)
        .select(SeriesRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Every occurrence of the series, by start (over `bookings_series_id_idx`).
pub(crate) async fn occurrences(
    conn: &mut Conn,
    id: BookingSeriesId,
) -> StorageResult<Vec<Booking>> {
    let rows = bookings::table
        .filter(bookings::series_id.eq(id.0))
        .order((bookings::start_at, bookings::id))
        .select(BookingRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Every occurrence of each of the series `ids`, by series then start: ONE statement (over
/// `bookings_series_id_idx`).
pub(crate) async fn occurrences_of(
    conn: &mut Conn,
    ids: &[BookingSeriesId],
) -> StorageResult<Vec<Booking>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = bookings::table
        .filter(bookings::series_id.eq_any(ids))
        .order((bookings::series_id, bookings::start_at, bookings::id))
        .select(BookingRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Inserts the series and its occurrences in ONE statement, guarded by the holder as
/// `bookings::insert_held_by` is (`FOR SHARE` on their row while their status is still
/// `holder_status`): `false`, nothing written, when it is not. An occurrence overlapping a
/// confirmed booking breaks `bookings_no_overlap` and fails the whole statement.
pub(crate) async fn insert_held_by(
    conn: &mut Conn,
    series: &BookingSeries,
    occurrences: &[Booking],
    holder: UserId,
    holder_status: &'static str,
) -> StorageResult<bool> {
    let rows: Vec<BookingRow> = occurrences.iter().map(BookingRow::from).collect();
    let (until, count) = match series.rule.end() {
        RecurrenceEnd::Until(date) => (Some(date), None),
        RecurrenceEnd::Count(count) => (None, i32::try_from(count).ok()),
    };
    let insert = InsertSeries {
        holder: holder.0,
        holder_status,
        id: series.id.0,
        organization_id: series.organization_id.0,
        room_id: series.room_id.0,
        site_id: series.site_id.0,
        user_id: series.user_id.0,
        created_by: series.created_by.0,
        title: series.title.clone(),
        frequency: series.rule.frequency().rfc5545(),
        interval: i32::try_from(series.rule.interval()).unwrap_or(i32::MAX),
        by_day: series
            .rule
            .by_day()
            .iter()
            .map(|d| weekday_code(*d))
            .collect(),
        by_month_day: series
            .rule
            .by_month_day()
            .iter()
            .map(|d| i32::try_from(*d).unwrap_or(0))
            .collect(),
        until,
        count,
        local_start: series.local_start,
        duration_minutes: series.duration_minutes,
        time_zone: series.time_zone.name(),
        skipped: series.skipped.clone(),
        created_at: series.created_at,
        ids: rows.iter().map(|r| r.id).collect(),
        room_ids: rows.iter().map(|r| r.room_id).collect(),
        site_ids: rows.iter().map(|r| r.site_id).collect(),
        organization_ids: rows.iter().map(|r| r.organization_id).collect(),
        user_ids: rows.iter().map(|r| r.user_id).collect(),
        created_bys: rows.iter().map(|r| r.created_by).collect(),
        titles: rows.iter().map(|r| r.title.clone()).collect(),
        starts: rows.iter().map(|r| r.start_at).collect(),
        ends: rows.iter().map(|r| r.end_at).collect(),
        sources: occurrences.iter().map(|b| b.source.label()).collect(),
        statuses: occurrences.iter().map(|b| b.status.label()).collect(),
        created_ats: rows.iter().map(|r| r.created_at).collect(),
        checked_in: rows.iter().map(|r| r.checked_in_at).collect(),
        release: rows.iter().map(|r| r.release_at).collect(),
    };
    let inserted = insert.execute(conn).await.storage()?;
    Ok(inserted == occurrences.len() && inserted > 0)
}

/// `WITH holder AS (… FOR SHARE), series AS (INSERT … SELECT … FROM holder RETURNING id)
/// INSERT INTO bookings … SELECT … FROM series, unnest(…)`: a statement of fixed text (arrays
/// for the occurrences), prepared once per connection.
#[derive(QueryId)]
struct InsertSeries {
    holder: Uuid,
    holder_status: &'static str,
    id: Uuid,
    organization_id: Uuid,
    room_id: Uuid,
    site_id: Uuid,
    user_id: Uuid,
    created_by: Uuid,
    title: Option<String>,
    frequency: &'static str,
    interval: i32,
    by_day: Vec<&'static str>,
    by_month_day: Vec<i32>,
    until: Option<NaiveDate>,
    count: Option<i32>,
    local_start: NaiveDateTime,
    duration_minutes: i32,
    time_zone: &'static str,
    skipped: Vec<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    ids: Vec<Uuid>,
    room_ids: Vec<Uuid>,
    site_ids: Vec<Uuid>,
    organization_ids: Vec<Uuid>,
    user_ids: Vec<Uuid>,
    created_bys: Vec<Uuid>,
    titles: Vec<Option<String>>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
    sources: Vec<&'static str>,
    statuses: Vec<&'static str>,
    created_ats: Vec<DateTime<Utc>>,
    checked_in: Vec<Option<DateTime<Utc>>>,
    release: Vec<Option<DateTime<Utc>>>,
}

impl QueryFragment<Pg> for InsertSeries {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH holder AS (SELECT id FROM users WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&self.holder)?;
        out.push_sql(" AND status = ");
        out.push_bind_param::<Text, _>(&self.holder_status)?;
        out.push_sql(
            " FOR SHARE), series AS (INSERT INTO booking_series (id, organization_id, room_id, \
             site_id, user_id, created_by, title, frequency, interval, by_day, by_month_day, \
             until, count, local_start, duration_minutes, time_zone, skipped, created_at) \
             SELECT ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.organization_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.room_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.site_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.created_by)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.title)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.frequency)?;
        out.push_sql(", ");
        out.push_bind_param::<Int4, _>(&self.interval)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.by_day)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Int4>, _>(&self.by_month_day)?;
        out.push_sql("::integer[], ");
        out.push_bind_param::<Nullable<Date>, _>(&self.until)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Int4>, _>(&self.count)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.local_start)?;
        out.push_sql(", ");
        out.push_bind_param::<Int4, _>(&self.duration_minutes)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.time_zone)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.skipped)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Timestamptz, _>(&self.created_at)?;
        out.push_sql(
            " FROM holder RETURNING id) INSERT INTO bookings (id, room_id, site_id, \
             organization_id, user_id, created_by, title, start_at, end_at, source, status, \
             created_at, checked_in_at, release_at, series_id) SELECT o.id, o.room_id, \
             o.site_id, o.organization_id, o.user_id, o.created_by, o.title, o.start_at, \
             o.end_at, o.source, o.status, o.created_at, o.checked_in_at, o.release_at, \
             series.id FROM series, unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.room_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.site_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.organization_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.user_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.created_bys)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.titles)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.starts)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.ends)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Text>, _>(&self.sources)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.created_ats)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.checked_in)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.release)?;
        out.push_sql(
            "::timestamptz[]) AS o(id, room_id, site_id, organization_id, user_id, created_by, \
             title, start_at, end_at, source, status, created_at, checked_in_at, release_at)",
        );
        Ok(())
    }
}
