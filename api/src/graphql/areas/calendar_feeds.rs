//! Calendar feeds: secret iCalendar addresses of one's own bookings or of a room's, created
//! (the address shown once), listed without it, revoked. The rules are the domain's
//! (`concierge_domain::ops::calendar_feeds`); the feed itself is `crate::calendar`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct CreateCalendarFeedInput {
    /// A room one may see; the caller's own bookings when absent.
    pub room_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateCalendarFeedPayload {
    pub calendar_feed: CalendarFeedObject,
    /// The feed's address (`https://<host>/calendar/cal_….ics`), shown this once: subscribe to
    /// it from Outlook, Google Calendar or Apple Calendar. Only its keyed hash is kept.
    pub url: String,
}

#[derive(InputObject)]
pub struct RevokeCalendarFeedInput {
    pub calendar_feed_id: ID,
}

#[derive(SimpleObject)]
pub struct CalendarFeedPayload {
    pub calendar_feed: CalendarFeedObject,
}

/// A calendar feed (never its address).
pub struct CalendarFeedObject(pub d::CalendarFeed);

#[Object(name = "CalendarFeed")]
impl CalendarFeedObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    /// The room of a room feed; null for the feed of one's own bookings.
    async fn room(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RoomObject>> {
        match self.0.room_id {
            Some(room) => Ok(load_opt(ctx, room).await?.map(RoomObject)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(Into::into)
    }
}

#[derive(Default)]
pub struct CalendarFeedsQuery;

#[Object]
impl CalendarFeedsQuery {
    /// The caller's calendar feeds, oldest first, revoked included.
    async fn calendar_feeds(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<CalendarFeedObject>> {
        let (domain, actor) = acting(ctx)?;
        let feeds = domain.calendar_feeds(&actor).await.gql()?;
        Ok(feeds.into_iter().map(CalendarFeedObject).collect())
    }
}

#[derive(Default)]
pub struct CalendarFeedsMutation;

#[Object]
impl CalendarFeedsMutation {
    /// Creates a secret calendar address of the caller's bookings, or of a room's.
    async fn create_calendar_feed(
        &self,
        ctx: &Context<'_>,
        input: CreateCalendarFeedInput,
    ) -> async_graphql::Result<CreateCalendarFeedPayload> {
        let (domain, actor) = acting(ctx)?;
        let room = parse_opt_id(input.room_id.as_ref(), "room")?;
        let (feed, token) = domain.create_calendar_feed(&actor, room).await.gql()?;
        let url = format!(
            "{}/calendar/{token}.ics",
            domain.config.public_url.trim_end_matches('/')
        );
        Ok(CreateCalendarFeedPayload {
            calendar_feed: CalendarFeedObject(feed),
            url,
        })
    }

    /// Revokes one of the caller's calendar feeds: its address answers 404 from now on.
    async fn revoke_calendar_feed(
        &self,
        ctx: &Context<'_>,
        input: RevokeCalendarFeedInput,
    ) -> async_graphql::Result<CalendarFeedPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.calendar_feed_id, "calendar feed")?;
        Ok(CalendarFeedPayload {
            calendar_feed: CalendarFeedObject(domain.revoke_calendar_feed(&actor, id).await.gql()?),
        })
    }
}
