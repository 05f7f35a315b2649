//! Bookings, room tablets and the live booking feed.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use concierge_domain as d;
use futures::Stream;

use crate::graphql::context::{SubscriberToken, acting, acting_for_room_display};
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id, to_graphql};
use crate::graphql::types::*;

#[derive(InputObject, Default)]
pub struct BookingFilter {
    pub room_id: Option<ID>,
    pub site_id: Option<ID>,
    pub user_id: Option<ID>,
    /// Bookings ending after this instant …
    pub from: Option<DateTime>,
    /// … and starting before this one.
    pub to: Option<DateTime>,
    pub status: Option<BookingStatus>,
}

#[derive(InputObject)]
pub struct CreateBookingInput {
    pub room_id: ID,
    pub start: DateTime,
    pub end: DateTime,
    /// The holder, for someone else (`bookings` ≥ OTHERS); the caller when omitted.
    pub user_id: Option<ID>,
    pub title: Option<String>,
}

#[derive(InputObject)]
pub struct CreateBookingWithCodeInput {
    pub room_id: ID,
    /// The personal booking code of the person booking at the door.
    pub code: String,
    pub start: DateTime,
    pub end: DateTime,
    pub title: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateBookingInput {
    pub id: ID,
    pub start: Option<DateTime>,
    pub end: Option<DateTime>,
    pub title: Option<String>,
}

#[derive(InputObject)]
pub struct CancelBookingInput {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct BookingPayload {
    pub booking: BookingObject,
}

#[derive(InputObject)]
pub struct RegisterDeviceInput {
    pub site_id: ID,
    /// Scopes the tablet to one room of the site.
    pub room_id: Option<ID>,
    pub name: String,
}

#[derive(SimpleObject)]
pub struct RegisterDevicePayload {
    pub device: DeviceObject,
    /// The tablet's bearer token, shown this once.
    pub token: String,
}

#[derive(InputObject)]
pub struct RevokeDeviceInput {
    pub device_id: ID,
}

#[derive(SimpleObject)]
pub struct DevicePayload {
    pub device: DeviceObject,
}

#[derive(Default)]
pub struct BookingsQuery;

#[Object]
impl BookingsQuery {
    /// Bookings in the rooms the caller may see, by start.
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        filter: BookingFilter,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<BookingConnection> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let domain_filter = d::BookingFilter {
            room_id: parse_opt_id(filter.room_id.as_ref(), "room")?,
            site_id: parse_opt_id(filter.site_id.as_ref(), "site")?,
            user_id: parse_opt_id(filter.user_id.as_ref(), "user")?,
            from: filter.from.map(|t| t.0),
            to: filter.to.map(|t| t.0),
            status: filter.status.map(Into::into),
        };
        let cursor: Option<BookingCursor> = decode_cursor(after.as_deref())?;
        let page = domain
            .bookings(&actor, domain_filter, first, cursor.map(|c| (c.0, c.1)))
            .await
            .gql()?;
        Ok(BookingConnection::from_page(page, after.is_some()))
    }
}

#[derive(Default)]
pub struct BookingsMutation;

#[Object]
impl BookingsMutation {
    async fn create_booking(
        &self,
        ctx: &Context<'_>,
        input: CreateBookingInput,
    ) -> async_graphql::Result<BookingPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewBooking {
            room_id: parse_id(&input.room_id, "room")?,
            start: input.start.0,
            end: input.end.0,
            user_id: parse_opt_id(input.user_id.as_ref(), "user")?,
            title: input.title,
        };
        Ok(BookingPayload {
            booking: BookingObject(domain.create_booking(&actor, new).await.gql()?),
        })
    }

    /// For room tablets: the device token authenticates the tablet, the code the person.
    async fn create_booking_with_code(
        &self,
        ctx: &Context<'_>,
        input: CreateBookingWithCodeInput,
    ) -> async_graphql::Result<BookingPayload> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let room = parse_id(&input.room_id, "room")?;
        let booking = domain
            .create_booking_with_code(
                &actor,
                room,
                &input.code,
                input.start.0,
                input.end.0,
                input.title,
            )
            .await
            .gql()?;
        Ok(BookingPayload {
            booking: BookingObject(booking),
        })
    }

    /// Moves, shortens, extends or renames a booking under the same rules as creating one.
    async fn update_booking(
        &self,
        ctx: &Context<'_>,
        input: UpdateBookingInput,
    ) -> async_graphql::Result<BookingPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "booking")?;
        let changes = d::BookingChanges {
            start: input.start.map(|t| t.0),
            end: input.end.map(|t| t.0),
            title: input.title,
        };
        Ok(BookingPayload {
            booking: BookingObject(domain.update_booking(&actor, id, changes).await.gql()?),
        })
    }

    async fn cancel_booking(
        &self,
        ctx: &Context<'_>,
        input: CancelBookingInput,
    ) -> async_graphql::Result<BookingPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "booking")?;
        Ok(BookingPayload {
            booking: BookingObject(domain.cancel_booking(&actor, id).await.gql()?),
        })
    }

    /// Registers a room tablet for a site (or one room); its token is shown once.
    async fn register_device(
        &self,
        ctx: &Context<'_>,
        input: RegisterDeviceInput,
    ) -> async_graphql::Result<RegisterDevicePayload> {
        let (domain, actor) = acting(ctx)?;
        let site = parse_id(&input.site_id, "site")?;
        let room = parse_opt_id(input.room_id.as_ref(), "room")?;
        let (device, token) = domain
            .register_device(&actor, site, room, &input.name)
            .await
            .gql()?;
        Ok(RegisterDevicePayload {
            device: DeviceObject(device),
            token,
        })
    }

    /// Revokes a tablet: its token and its subscriptions stop working.
    async fn revoke_device(
        &self,
        ctx: &Context<'_>,
        input: RevokeDeviceInput,
    ) -> async_graphql::Result<DevicePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.device_id, "device")?;
        Ok(DevicePayload {
            device: DeviceObject(domain.revoke_device(&actor, id).await.gql()?),
        })
    }
}

/// How often a quiet subscription re-checks that its subscriber may still listen.
const RECHECK_EVERY: Duration = Duration::from_secs(15);

#[derive(Default)]
pub struct BookingsSubscription;

#[Subscription]
impl BookingsSubscription {
    /// Every change to a booking of this room, or of any room of this site, once it is committed.
    async fn booking_events(
        &self,
        ctx: &Context<'_>,
        room_id: Option<ID>,
        site_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<BookingEvent>> + use<>>
    {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let room = parse_opt_id(room_id.as_ref(), "room")?;
        let site = parse_opt_id(site_id.as_ref(), "site")?;
        let watch = domain.watch_bookings(&actor, room, site).await.gql()?;
        let token = ctx.data::<SubscriberToken>().ok().and_then(|t| t.0.clone());
        let domain = domain.clone();
        let events = domain.store.booking_events();
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.reset();
        let counted = ctx
            .data_opt::<std::sync::Arc<crate::metrics::Metrics>>()
            .map(|metrics| metrics.subscription_started());
        let state = Feed {
            _counted: counted,
            domain,
            token,
            watch,
            events,
            recheck,
            ended: false,
        };
        Ok(futures::stream::unfold(state, Feed::next))
    }
}

/// One subscriber's view of the booking feed.
struct Feed {
    /// Keeps the subscription on the `live_subscriptions` gauge until the feed is dropped.
    _counted: Option<crate::metrics::LiveSubscription>,
    domain: d::Domain,
    token: Option<String>,
    watch: d::BookingWatch,
    events: tokio::sync::broadcast::Receiver<d::BookingEvent>,
    recheck: tokio::time::Interval,
    ended: bool,
}

impl Feed {
    async fn still_allowed(&self) -> bool {
        match &self.token {
            Some(token) => self
                .domain
                .authenticate(token, None)
                .await
                .is_ok_and(|c| c.for_room_display().is_ok()),
            None => false,
        }
    }

    fn end_with(
        mut self,
        error: d::DomainError,
    ) -> Option<(async_graphql::Result<BookingEvent>, Self)> {
        self.ended = true;
        Some((Err(to_graphql(error)), self))
    }

    async fn next(mut self) -> Option<(async_graphql::Result<BookingEvent>, Self)> {
        use tokio::sync::broadcast::error::RecvError;
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                received = self.events.recv() => match received {
                    Ok(event) if self.watch.wants(&event) => {
                        if !self.still_allowed().await {
                            return self.end_with(d::DomainError::Unauthenticated("access ended".into()));
                        }
                        let item = BookingEvent { kind: event.kind.into(), booking: BookingObject(event.booking) };
                        return Some((Ok(item), self));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        let message = format!("fell {missed} events behind; re-read the schedule and subscribe again");
                        return self.end_with(d::DomainError::Conflict { field: "roomId".into(), message });
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => {
                    if !self.still_allowed().await {
                        return self.end_with(d::DomainError::Unauthenticated("access ended".into()));
                    }
                }
            }
        }
    }
}
