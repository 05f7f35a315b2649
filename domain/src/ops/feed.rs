//! The live booking feed, as one subscriber sees it: what it watches, how it sees a booking's
//! holder (a pure function of what the event carries: no read per subscriber), and the check
//! made again when a fact on the feed may have ended its access.

use std::sync::Arc;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{RoomId, SiteId};
use crate::model::{FeedBooking, Organization, User};
use crate::ops::Domain;
use crate::ops::bookings::BookingWatch;

/// One subscription's watch: the rooms it hears of, and the organization of their bookings
/// (read once, at subscription, for the holders' visibility).
#[derive(Debug, Clone)]
pub struct FeedWatch {
    pub watch: BookingWatch,
    organization: Organization,
}

/// Why a subscriber may no longer listen, or that it could not be told.
#[derive(Debug, Clone)]
pub enum Recheck {
    /// Still allowed: the actor and watch as they are now.
    Allowed(Arc<Actor>, FeedWatch),
    /// Access ended: end the subscription with this error (UNAUTHENTICATED or FORBIDDEN).
    Ended(DomainError),
    /// Storage could not answer: not a revocation; check again later.
    Unknown(DomainError),
}

impl Domain {
    /// Checks a subscription to a room's (or a site's) booking feed, as `watch_bookings` does,
    /// and reads the organization of the room once for the holders' visibility.
    pub async fn watch_feed(
        &self,
        actor: &Actor,
        room: Option<RoomId>,
        site: Option<SiteId>,
    ) -> DomainResult<FeedWatch> {
        let watch = self.watch_bookings(actor, room, site).await?;
        let organization = self
            .organizations_as_stored(actor, &[watch.organization_id()])
            .await?
            .pop()
            .ok_or_else(|| DomainError::internal("a watched room without its organization"))?;
        Ok(FeedWatch {
            watch,
            organization,
        })
    }

    /// Whether a subscriber watching `watch` hears of `event`, and how it sees the holder:
    /// `Some(None)` when the holder is to be read as usual (someone of another organization),
    /// `None` when the subscriber does not hear of the event at all. Pure: no storage read.
    pub fn feed_holder_view(
        &self,
        actor: &Actor,
        watch: &FeedWatch,
        event: &FeedBooking,
    ) -> Option<Option<User>> {
        if !watch.watch.wants(&event.event) {
            return None;
        }
        let Some(holder) = &event.holder else {
            return Some(None);
        };
        let org = &watch.organization;
        if holder.organization_id != org.id {
            return Some(None);
        }
        // As `load_people` shows a booking's holder; nobody: read as usual (NOT_FOUND there).
        Some(self.person_as_seen(actor, holder, org))
    }

    /// How long the bearer of `token` may still listen before its access token expires (a
    /// person's; a tablet's token does not expire): a subscription ends then, as a request with
    /// that token would be refused. `None` for a token that does not expire.
    pub fn access_token_lifetime(&self, token: &str) -> Option<std::time::Duration> {
        let claims = self.secrets.decode_access_token(token)?;
        let left = claims.exp.saturating_sub(self.now().timestamp());
        Some(std::time::Duration::from_secs(
            u64::try_from(left).unwrap_or(0),
        ))
    }

    /// Checks again (after an access-ended fact that concerns it) whether the bearer of `token`
    /// may still listen to what it watches: one authentication and the watch's visibility
    /// check.
    pub async fn recheck_subscriber(
        &self,
        token: &str,
        room: Option<RoomId>,
        site: Option<SiteId>,
    ) -> Recheck {
        let checked = async {
            let actor = self.authenticate(token, None).await?.for_room_display()?;
            let watch = self.watch_feed(&actor, room, site).await?;
            Ok::<_, DomainError>((actor, watch))
        };
        match checked.await {
            Ok((actor, watch)) => Recheck::Allowed(actor, watch),
            Err(error @ (DomainError::Unavailable(_) | DomainError::Internal(_))) => {
                Recheck::Unknown(error)
            }
            Err(error @ DomainError::Unauthenticated(_)) => Recheck::Ended(error),
            Err(DomainError::NotFound(_)) => Recheck::Ended(DomainError::Forbidden(
                "you may no longer see this room".into(),
            )),
            Err(error @ (DomainError::Forbidden(_) | DomainError::ForbiddenOn { .. })) => {
                Recheck::Ended(error)
            }
            Err(other) => Recheck::Ended(DomainError::Forbidden(other.public_message())),
        }
    }
}
