//! Recurring bookings: the series and its rule, in RFC 5545 terms.

use async_graphql::{Context, Enum, ID, Object};
use concierge_domain as d;

use super::*;
use crate::graphql::context::acting;
use crate::graphql::errors::GqlResult;

/// `FREQ` of a recurrence rule.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::Frequency")]
pub enum RecurrenceFrequency {
    Daily,
    Weekly,
    Monthly,
}

/// A day of the week, as `BYDAY` writes it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Weekday {
    Mo,
    Tu,
    We,
    Th,
    Fr,
    Sa,
    Su,
}

impl From<Weekday> for chrono::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Mo => chrono::Weekday::Mon,
            Weekday::Tu => chrono::Weekday::Tue,
            Weekday::We => chrono::Weekday::Wed,
            Weekday::Th => chrono::Weekday::Thu,
            Weekday::Fr => chrono::Weekday::Fri,
            Weekday::Sa => chrono::Weekday::Sat,
            Weekday::Su => chrono::Weekday::Sun,
        }
    }
}

impl From<chrono::Weekday> for Weekday {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Weekday::Mo,
            chrono::Weekday::Tue => Weekday::Tu,
            chrono::Weekday::Wed => Weekday::We,
            chrono::Weekday::Thu => Weekday::Th,
            chrono::Weekday::Fri => Weekday::Fr,
            chrono::Weekday::Sat => Weekday::Sa,
            chrono::Weekday::Sun => Weekday::Su,
        }
    }
}

/// What `createBookingSeries` does with an occurrence whose slot is taken.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
#[graphql(remote = "d::OnConflict")]
pub enum OnConflict {
    /// Book nothing; the error lists the conflicting occurrences (`extensions.conflicts`).
    #[default]
    Fail,
    /// Book the free occurrences; the others are listed in `skipped`.
    Skip,
}

/// Which occurrences of a series a change or a cancellation concerns.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::SeriesScope")]
pub enum SeriesScope {
    /// The occurrence named.
    Occurrence,
    /// The occurrence named and the later ones that have not started.
    ThisAndFollowing,
    /// The occurrence named and every other one that has not started.
    All,
}

pub struct BookingSeriesObject(pub d::BookingSeries);

#[Object(name = "BookingSeries")]
impl BookingSeriesObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn room(&self, ctx: &Context<'_>) -> async_graphql::Result<RoomObject> {
        load_req(ctx, self.0.room_id, "room").await.map(RoomObject)
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// The rule as an RFC 5545 `RRULE` value (`FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=…`), for
    /// a first occurrence at `start` in `timeZone` (`DTSTART;TZID=…`).
    async fn rrule(&self) -> String {
        self.0.rule.to_rrule(self.0.time_zone)
    }
    async fn frequency(&self) -> RecurrenceFrequency {
        self.0.rule.frequency().into()
    }
    async fn interval(&self) -> i32 {
        i32::try_from(self.0.rule.interval()).unwrap_or(i32::MAX)
    }
    /// The weekdays of a weekly rule; empty: the first occurrence's.
    async fn by_day(&self) -> Vec<Weekday> {
        self.0.rule.by_day().iter().map(|d| (*d).into()).collect()
    }
    /// The days of the month of a monthly rule; empty: the first occurrence's.
    async fn by_month_day(&self) -> Vec<i32> {
        self.0
            .rule
            .by_month_day()
            .iter()
            .map(|d| i32::try_from(*d).unwrap_or(0))
            .collect()
    }
    /// The last local date an occurrence may fall on, when the rule ends on a date.
    async fn until(&self) -> Option<Date> {
        match self.0.rule.end() {
            d::RecurrenceEnd::Until(date) => Some(Date(date)),
            d::RecurrenceEnd::Count(_) => None,
        }
    }
    /// How many occurrences the rule makes, when it ends after a count.
    async fn count(&self) -> Option<i32> {
        match self.0.rule.end() {
            d::RecurrenceEnd::Count(count) => i32::try_from(count).ok(),
            d::RecurrenceEnd::Until(_) => None,
        }
    }
    /// The site's time zone the rule is expanded in (IANA name).
    async fn time_zone(&self) -> &'static str {
        self.0.time_zone.name()
    }
    /// The first occurrence's start.
    async fn start(&self) -> DateTime {
        d::recurrence::local_instant(self.0.time_zone, self.0.local_start).into()
    }
    async fn duration_minutes(&self) -> i32 {
        self.0.duration_minutes
    }
    /// Occurrences the rule makes that were not booked: the room was taken then.
    async fn skipped(&self) -> Vec<DateTime> {
        self.0.skipped.iter().map(|t| (*t).into()).collect()
    }
    /// Every occurrence booked, cancelled ones included, by start.
    async fn occurrences(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingObject>> {
        let (domain, _) = acting(ctx)?;
        let bookings = domain.series_occurrences(&self.0).await.gql()?;
        Ok(bookings.into_iter().map(BookingObject).collect())
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}
