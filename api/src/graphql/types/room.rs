use async_graphql::{Context, ID, Object, SimpleObject};
use concierge_domain as d;

use super::*;

pub struct RoomObject(pub d::Room);

#[derive(SimpleObject)]
pub struct BookingPolicy {
    /// Bookings start and end on multiples of this many minutes.
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    /// How many days ahead one may book.
    pub horizon_days: i32,
    /// Whether the holder must check in (app or door); a booking not checked in
    /// `releaseAfterMinutes` after its start is released.
    pub check_in_required: bool,
    pub release_after_minutes: i32,
}

#[Object(name = "Room")]
impl RoomObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn site(&self, ctx: &Context<'_>) -> async_graphql::Result<SiteObject> {
        load_req(ctx, self.0.site_id, "site").await.map(SiteObject)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }
    async fn equipment(&self) -> &[String] {
        &self.0.equipment
    }
    async fn bookable(&self) -> bool {
        self.0.bookable
    }
    /// Confirmed bookings overlapping the given day, in the site's time zone, ordered by start.
    async fn schedule(
        &self,
        ctx: &Context<'_>,
        date: Date,
    ) -> async_graphql::Result<Vec<BookingObject>> {
        // What the room display may ask (a tablet included); batched across the rooms of a
        // list (`rooms { schedule }`): one read for all of them.
        crate::graphql::context::acting_for_room_display(ctx)?;
        let key = crate::graphql::loaders::RoomDay(self.0.id, self.0.site_id, date.0);
        let bookings: Option<Vec<d::Booking>> = load_opt(ctx, key).await?;
        Ok(bookings
            .unwrap_or_default()
            .into_iter()
            .map(BookingObject)
            .collect())
    }

    async fn policy(&self) -> BookingPolicy {
        let p = self.0.policy;
        BookingPolicy {
            slot_minutes: p.slot_minutes,
            min_minutes: p.min_minutes,
            max_minutes: p.max_minutes,
            horizon_days: p.horizon_days,
            check_in_required: p.check_in_required,
            release_after_minutes: p.release_after_minutes,
        }
    }
}
