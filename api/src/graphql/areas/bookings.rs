//! Bookings, room tablets and the live booking feed.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Subscription};
use concierge_domain as d;
use futures::Stream;

use crate::graphql::context::{SubscriberToken, acting, acting_for_room_display, loader};
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

/// A room tablet acting on a booking of its room for its holder, who proves it with their code.
#[derive(InputObject)]
pub struct BookingAtTheDoorInput {
    pub booking_id: ID,
    /// The personal booking code of the booking's holder (anyone else's is refused).
    pub code: String,
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
            .bookings(
                &actor,
                domain_filter,
                first,
                cursor.map(|c| (c.0, c.1)),
                total_count_selected(ctx),
            )
            .await
            .gql()?;
        // Each relation of the page in one batch, whatever the pace at which the bookings'
        // fields resolve afterwards (from the loader's cache).
        let node = ctx.look_ahead().field("edges").field("node");
        let loader = loader(ctx)?;
        if node.field("room").exists() {
            let rooms = distinct(page.items.iter().map(|b| b.room_id));
            loader.load_many(rooms).await.gql()?;
        }
        if node.field("user").exists() || node.field("createdBy").exists() {
            let people = page.items.iter().flat_map(|b| [b.user_id, b.created_by]);
            let people = distinct(people.map(crate::graphql::loaders::Person));
            loader.load_many(people).await.gql()?;
        }
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

    /// The holder checks in to their booking, in a room whose policy asks for it: from 10
    /// minutes before the start until `releaseAt`.
    async fn check_in(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> async_graphql::Result<BookingPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&booking_id, "booking")?;
        Ok(BookingPayload {
            booking: BookingObject(domain.check_in(&actor, id).await.gql()?),
        })
    }

    /// For room tablets: checks the holder in at the door, with their booking code.
    async fn check_in_with_code(
        &self,
        ctx: &Context<'_>,
        input: BookingAtTheDoorInput,
    ) -> async_graphql::Result<BookingPayload> {
        at_the_door(ctx, input, d::DoorAction::CheckIn).await
    }

    /// For room tablets: extends the booking under way by one slot (when that slot is free and
    /// the room's longest booking allows it), with the holder's booking code.
    async fn extend_booking_with_code(
        &self,
        ctx: &Context<'_>,
        input: BookingAtTheDoorInput,
    ) -> async_graphql::Result<BookingPayload> {
        at_the_door(ctx, input, d::DoorAction::Extend).await
    }

    /// For room tablets: ends the booking under way at the end of the slot in progress, freeing
    /// the rest, with the holder's booking code.
    async fn end_booking_with_code(
        &self,
        ctx: &Context<'_>,
        input: BookingAtTheDoorInput,
    ) -> async_graphql::Result<BookingPayload> {
        at_the_door(ctx, input, d::DoorAction::EndNow).await
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

/// What the three door mutations share: the tablet's actor, the holder's code.
async fn at_the_door(
    ctx: &Context<'_>,
    input: BookingAtTheDoorInput,
    action: d::DoorAction,
) -> async_graphql::Result<BookingPayload> {
    let (domain, actor) = acting_for_room_display(ctx)?;
    let id = parse_id(&input.booking_id, "booking")?;
    let booking = domain
        .at_the_door(&actor, id, &input.code, action)
        .await
        .gql()?;
    Ok(BookingPayload {
        booking: BookingObject(booking),
    })
}

/// How soon a subscription checks again when its check after an access-ended fact could not
/// reach storage (an outage is not a revocation: the subscription stays meanwhile).
const RECHECK_RETRY_MIN: Duration = Duration::from_millis(500);
const RECHECK_RETRY_MAX: Duration = Duration::from_secs(10);

/// The people a connection's booking feed showed last, as the domain lets it see them (see
/// `Domain::feed_holder_view`): `Booking.user` and `Booking.createdBy` of a feed event resolve
/// from here without reading storage. Filled by the feed right before it yields an event, read
/// while that event is resolved; bounded. One per request context (a WebSocket connection's:
/// its subscriptions share its caller, so they see people alike).
#[derive(Default)]
pub struct FeedPeople(std::sync::Mutex<std::collections::HashMap<d::UserId, d::User>>);

/// The most people a connection's [`FeedPeople`] keeps.
const FEED_PEOPLE_MAX: usize = 256;

impl FeedPeople {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<d::UserId, d::User>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `holder`'s view for the event about to be resolved; `None`: read them as usual.
    fn show(&self, id: d::UserId, view: Option<d::User>) {
        let mut people = self.lock();
        match view {
            Some(user) => {
                if people.len() >= FEED_PEOPLE_MAX && !people.contains_key(&id) {
                    people.clear();
                }
                people.insert(id, user);
            }
            None => {
                people.remove(&id);
            }
        }
    }

    /// The person as the feed last showed them, if it did.
    pub fn get(&self, id: d::UserId) -> Option<d::User> {
        self.lock().get(&id).cloned()
    }
}

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
        let token = ctx.data::<SubscriberToken>().ok().and_then(|t| t.0.clone());
        // Listen first, then check the token again (the connection may have been authenticated
        // long ago): an access-ended fact committed from now on is heard, one committed before
        // is seen by this check.
        let events = domain.store.feed();
        let actor = match &token {
            Some(token) => domain
                .authenticate(token, None)
                .await
                .and_then(|caller| caller.for_room_display())
                .gql()?,
            None => actor,
        };
        let watch = domain.watch_feed(&actor, room, site).await.gql()?;
        let people = crate::graphql::context::feed_people(ctx).cloned();
        let domain = domain.clone();
        let counted = ctx
            .data_opt::<std::sync::Arc<crate::metrics::Metrics>>()
            .map(|metrics| metrics.subscription_started());
        let expires_at = token
            .as_deref()
            .and_then(|token| domain.access_token_lifetime(token))
            .map(|left| tokio::time::Instant::now() + left);
        let state = Feed {
            _counted: counted,
            expires_at,
            domain,
            token,
            room,
            site,
            actor,
            watch,
            people,
            events,
            recheck_at: None,
            retry: RECHECK_RETRY_MIN,
            ended: false,
        };
        Ok(futures::stream::unfold(state, Feed::next))
    }
}

/// One subscriber's view of the feed. Per event it only filters and serialises: the event
/// arrives resolved (booking as committed, holder) for every subscriber of the server at once.
/// Access-ended facts that concern the subscriber make it check again, once; nothing polls.
struct Feed {
    /// Keeps the subscription on the `live_subscriptions` gauge until the feed is dropped.
    _counted: Option<crate::metrics::LiveSubscription>,
    domain: d::Domain,
    token: Option<String>,
    room: Option<d::RoomId>,
    site: Option<d::SiteId>,
    actor: std::sync::Arc<d::Actor>,
    watch: d::FeedWatch,
    people: Option<std::sync::Arc<FeedPeople>>,
    events: tokio::sync::broadcast::Receiver<d::FeedEvent>,
    /// When the subscriber's access token expires (a person's): the subscription ends then.
    expires_at: Option<tokio::time::Instant>,
    /// A check that storage could not answer, to run again then.
    recheck_at: Option<tokio::time::Instant>,
    retry: Duration,
    ended: bool,
}

/// What a check after an access-ended fact decided.
enum Checked {
    Allowed,
    Ended(d::DomainError),
    Unknown,
}

impl Feed {
    /// Checks again whether the subscriber may listen; on an outage, plans another check.
    async fn recheck(&mut self) -> Checked {
        let Some(token) = &self.token else {
            return Checked::Ended(d::DomainError::Unauthenticated("access ended".into()));
        };
        match self
            .domain
            .recheck_subscriber(token, self.room, self.site)
            .await
        {
            d::Recheck::Allowed(actor, watch) => {
                self.actor = actor;
                self.watch = watch;
                self.recheck_at = None;
                self.retry = RECHECK_RETRY_MIN;
                Checked::Allowed
            }
            d::Recheck::Ended(error) => Checked::Ended(error),
            d::Recheck::Unknown(error) => {
                tracing::warn!(%error, retry_in = ?self.retry, "a subscriber's access could not be checked; it stays until it can be");
                self.recheck_at = Some(tokio::time::Instant::now() + self.retry);
                self.retry = (self.retry * 2).min(RECHECK_RETRY_MAX);
                Checked::Unknown
            }
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
            let retry = until(self.recheck_at);
            let expired = until(self.expires_at);
            tokio::select! {
                received = self.events.recv() => match received {
                    Ok(d::FeedEvent::Booking(event)) => {
                        let Some(holder) = self.domain.feed_holder_view(&self.actor, &self.watch, &event) else {
                            continue;
                        };
                        if let Some(people) = &self.people {
                            people.show(event.event.booking.user_id, holder);
                        }
                        let item = BookingEvent {
                            kind: event.event.kind.into(),
                            booking: BookingObject(event.event.booking.clone()),
                        };
                        return Some((Ok(item), self));
                    }
                    Ok(d::FeedEvent::AccessEnded(fact)) => {
                        if !fact.concerns(&self.actor) {
                            continue;
                        }
                        match self.recheck().await {
                            Checked::Ended(error) => return self.end_with(error),
                            Checked::Allowed | Checked::Unknown => continue,
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        // What was missed may have ended this subscriber's access too.
                        let message = format!("fell {missed} events behind; re-read the schedule and subscribe again");
                        return self.end_with(d::DomainError::Conflict { field: "roomId".into(), message });
                    }
                    Err(RecvError::Closed) => return None,
                },
                () = retry => {
                    if let Checked::Ended(error) = self.recheck().await {
                        return self.end_with(error);
                    }
                }
                () = expired => {
                    return self.end_with(d::DomainError::Unauthenticated(
                        "the access token expired; subscribe again with a new one".into(),
                    ));
                }
            }
        }
    }
}

/// Resolves at `at`, never without one.
async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
