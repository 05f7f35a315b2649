//! Recurring bookings: creating a series, changing or cancelling some of its occurrences.

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id};
use crate::graphql::types::*;

/// A recurrence rule in RFC 5545 terms: `FREQ`, `INTERVAL`, `BYDAY` (weekly), `BYMONTHDAY`
/// (monthly), and `UNTIL` (a local date of the site, inclusive) or `COUNT` (at most 200).
#[derive(InputObject)]
pub struct RecurrenceRuleInput {
    pub frequency: RecurrenceFrequency,
    /// Every how many days, weeks or months (1 when omitted).
    pub interval: Option<i32>,
    /// Weekly only; the first occurrence's weekday when omitted.
    pub by_day: Option<Vec<Weekday>>,
    /// Monthly only (1–31; months without that day are left out); the first occurrence's day
    /// when omitted.
    pub by_month_day: Option<Vec<i32>>,
    pub until: Option<Date>,
    pub count: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateBookingSeriesInput {
    pub room_id: ID,
    /// The holder, for someone else (`bookings` ≥ OTHERS); the caller when omitted.
    pub user_id: Option<ID>,
    pub title: Option<String>,
    /// The first occurrence; the others are at the same local time of the site.
    pub start: DateTime,
    pub end: DateTime,
    pub rule: RecurrenceRuleInput,
    #[graphql(default)]
    pub on_conflict: OnConflict,
}

#[derive(SimpleObject)]
pub struct CreateBookingSeriesPayload {
    pub series: BookingSeriesObject,
    /// The occurrences booked, by start.
    pub bookings: Vec<BookingObject>,
    /// The occurrences not booked (`onConflict: SKIP`): the room was taken then.
    pub skipped: Vec<DateTime>,
}

#[derive(InputObject)]
pub struct UpdateBookingSeriesInput {
    /// An occurrence of the series.
    pub id: ID,
    pub scope: SeriesScope,
    /// The occurrence's new start: every occurrence in scope moves by the same local time.
    pub start: Option<DateTime>,
    /// The occurrence's new end: every occurrence in scope gets the same duration.
    pub end: Option<DateTime>,
    pub title: Option<String>,
}

#[derive(InputObject)]
pub struct CancelBookingSeriesInput {
    /// An occurrence of the series.
    pub id: ID,
    pub scope: SeriesScope,
}

#[derive(SimpleObject)]
pub struct BookingSeriesChangePayload {
    /// The occurrences changed (or cancelled), by start.
    pub bookings: Vec<BookingObject>,
}

#[derive(Default)]
pub struct BookingSeriesMutation;

#[Object]
impl BookingSeriesMutation {
    /// Books a room on every date of a rule, each occurrence under the rules of
    /// `createBooking`, in one transaction. With `onConflict: FAIL` (the default) a taken slot
    /// books nothing: CONFLICT on `rule`, the occurrences' starts in `extensions.conflicts`.
    async fn create_booking_series(
        &self,
        ctx: &Context<'_>,
        input: CreateBookingSeriesInput,
    ) -> async_graphql::Result<CreateBookingSeriesPayload> {
        let (domain, actor) = acting(ctx)?;
        let rule = input.rule;
        let new = d::NewBookingSeries {
            room_id: parse_id(&input.room_id, "room")?,
            user_id: parse_opt_id(input.user_id.as_ref(), "user")?,
            title: input.title,
            start: input.start.0,
            end: input.end.0,
            rule: d::RuleInput {
                frequency: Some(rule.frequency.into()),
                interval: rule.interval,
                by_day: rule
                    .by_day
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                by_month_day: rule.by_month_day.unwrap_or_default(),
                until: rule.until.map(|d| d.0),
                count: rule.count,
            },
            on_conflict: input.on_conflict.into(),
        };
        match domain.create_booking_series(&actor, new).await.gql()? {
            d::SeriesOutcome::Booked { series, bookings } => Ok(CreateBookingSeriesPayload {
                skipped: series.skipped.iter().map(|t| (*t).into()).collect(),
                series: BookingSeriesObject(*series),
                bookings: bookings.into_iter().map(BookingObject).collect(),
            }),
            d::SeriesOutcome::Conflicting(starts) => Err(conflicts_error(&starts)),
        }
    }

    /// Moves, resizes or renames an occurrence, and the following ones or all of them.
    async fn update_booking_series(
        &self,
        ctx: &Context<'_>,
        input: UpdateBookingSeriesInput,
    ) -> async_graphql::Result<BookingSeriesChangePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "booking")?;
        let changes = d::SeriesChanges {
            start: input.start.map(|t| t.0),
            end: input.end.map(|t| t.0),
            title: input.title,
        };
        let bookings = domain
            .update_booking_series(&actor, id, input.scope.into(), changes)
            .await
            .gql()?;
        Ok(BookingSeriesChangePayload {
            bookings: bookings.into_iter().map(BookingObject).collect(),
        })
    }

    /// Cancels an occurrence, and the following ones or all of them.
    async fn cancel_booking_series(
        &self,
        ctx: &Context<'_>,
        input: CancelBookingSeriesInput,
    ) -> async_graphql::Result<BookingSeriesChangePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "booking")?;
        let bookings = domain
            .cancel_booking_series(&actor, id, input.scope.into())
            .await
            .gql()?;
        Ok(BookingSeriesChangePayload {
            bookings: bookings.into_iter().map(BookingObject).collect(),
        })
    }
}

/// Nothing was booked: CONFLICT on `rule`, every conflicting occurrence's start (RFC 3339, UTC)
/// in `extensions.conflicts`.
fn conflicts_error(starts: &[chrono::DateTime<chrono::Utc>]) -> async_graphql::Error {
    let message = format!(
        "nothing was booked: the room is already booked for {} occurrence(s)",
        starts.len()
    );
    let listed: Vec<async_graphql::Value> = starts
        .iter()
        .map(|t| async_graphql::ScalarType::to_value(&DateTime(*t)))
        .collect();
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", d::ErrorCode::Conflict.as_str());
        ext.set("field", "rule");
        ext.set("conflicts", async_graphql::Value::List(listed));
    })
}
