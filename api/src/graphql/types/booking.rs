use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use concierge_domain as d;

use super::*;
use crate::graphql::loaders::Person;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::BookingSource")]
pub enum BookingSource {
    Admin,
    App,
    Tablet,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::BookingStatus")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
    /// Not checked in in time: the room is free again.
    Released,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "d::BookingEventKind")]
pub enum BookingEventKind {
    Created,
    Updated,
    Cancelled,
    /// Released for want of a check-in.
    Released,
}

pub struct BookingObject(pub d::Booking);

impl From<d::Booking> for BookingObject {
    fn from(value: d::Booking) -> Self {
        Self(value)
    }
}

async fn person(ctx: &Context<'_>, id: d::UserId) -> async_graphql::Result<UserObject> {
    // A booking event of the live feed brings its holder, as this subscriber may see them.
    let shown = crate::graphql::context::feed_people(ctx).and_then(|people| people.get(id));
    if let Some(user) = shown {
        return Ok(UserObject::from(user));
    }
    let user: d::User = load_req(ctx, Person(id), "user").await?;
    Ok(UserObject::from(user))
}

#[Object(name = "Booking")]
impl BookingObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn room(&self, ctx: &Context<'_>) -> async_graphql::Result<RoomObject> {
        load_req(ctx, self.0.room_id, "room").await.map(RoomObject)
    }
    /// The person the room is booked for.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        person(ctx, self.0.user_id).await
    }
    /// The person (or device's registrant) who made the booking.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        person(ctx, self.0.created_by).await
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn start(&self) -> DateTime {
        self.0.start.into()
    }
    async fn end(&self) -> DateTime {
        self.0.end.into()
    }
    async fn source(&self) -> BookingSource {
        self.0.source.into()
    }
    async fn status(&self) -> BookingStatus {
        self.0.status.into()
    }
    /// When the holder checked in; null until then.
    async fn checked_in_at(&self) -> Option<DateTime> {
        self.0.checked_in_at.map(Into::into)
    }
    /// When the booking is released unless checked in (the room's policy asks for check-in
    /// from 10 minutes before the start until then); null when no check-in is asked.
    async fn release_at(&self) -> Option<DateTime> {
        self.0.release_at.map(Into::into)
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// The recurring series this booking is an occurrence of; null for a one-off booking.
    async fn series(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BookingSeriesObject>> {
        let Some(series) = self.0.series_id else {
            return Ok(None);
        };
        // Through the loader: a page of bookings reads its series in one batch.
        let series: d::BookingSeries = load_req(ctx, series, "booking series").await?;
        Ok(Some(BookingSeriesObject(series)))
    }
}

/// A booking list's cursor: the row's `(start, id)`.
#[derive(Debug, Clone, Copy)]
pub struct BookingCursor(pub chrono::DateTime<chrono::Utc>, pub d::BookingId);

impl std::fmt::Display for BookingCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.0.timestamp_micros(), self.1)
    }
}

impl std::str::FromStr for BookingCursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, id) = s.split_once('~').ok_or(())?;
        let start =
            chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| ())?).ok_or(())?;
        Ok(BookingCursor(start, id.parse().map_err(|_| ())?))
    }
}

#[derive(SimpleObject)]
pub struct BookingEdge {
    pub cursor: String,
    pub node: BookingObject,
}

#[derive(SimpleObject)]
pub struct BookingConnection {
    pub edges: Vec<BookingEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

impl BookingConnection {
    pub fn from_page(page: d::Page<d::Booking>, after_given: bool) -> Self {
        let edges: Vec<BookingEdge> = page
            .items
            .into_iter()
            .map(|b| BookingEdge {
                cursor: encode_cursor(BookingCursor(b.start, b.id)),
                node: BookingObject(b),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: after_given,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        BookingConnection {
            edges,
            page_info,
            total_count: page.total_count,
        }
    }
}

pub struct DeviceObject(pub d::Device);

#[Object(name = "Device")]
impl DeviceObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn site(&self, ctx: &Context<'_>) -> async_graphql::Result<SiteObject> {
        load_req(ctx, self.0.site_id, "site").await.map(SiteObject)
    }
    async fn room(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RoomObject>> {
        match self.0.room_id {
            Some(room) => Ok(load_opt(ctx, room).await?.map(RoomObject)),
            None => Ok(None),
        }
    }
}

#[derive(SimpleObject)]
pub struct BookingEvent {
    pub kind: BookingEventKind,
    pub booking: BookingObject,
}
