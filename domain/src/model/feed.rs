//! The live feed every server fans out to its subscribers: committed booking events, each with
//! what subscribers display, and the facts that end someone's access. Both travel on one
//! commit-ordered feed, written in the transaction of the change they describe.

use std::sync::Arc;

use crate::access::Actor;
use crate::ids::{DeviceId, OrganizationId, ProfileId, SessionId, SiteGroupId, UserId};
use crate::model::{BookingEvent, User};

/// A booking event as committed, resolved once for every subscriber of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBooking {
    pub event: BookingEvent,
    /// The booking's holder as committed with the event, without any credential (see
    /// [`User::without_credentials`]); `None` if the holder row is gone. Each subscriber sees
    /// the view the domain allows it (`Domain::feed_holder_view`).
    pub holder: Option<User>,
}

/// Something that may end the access of subscribers: each concerned subscription checks again,
/// once, whether its subscriber may still listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessEnded {
    /// Deactivated, every session ended (password change or reset), or their profile, sites or
    /// site groups changed. Also concerns the tablets this person registered.
    User(UserId),
    /// One session ended (logout, refresh-token reuse).
    Session(SessionId),
    /// A tablet revoked.
    Device(DeviceId),
    /// A profile's permissions changed, or the profile was deleted.
    Profile(ProfileId),
    /// The sites of a site group changed.
    SiteGroup(SiteGroupId),
    /// A rule of this organization changed for everyone in it (e.g. a second factor became
    /// required).
    Organization(OrganizationId),
}

impl AccessEnded {
    /// Whether the subscription of `actor` must check again.
    pub fn concerns(&self, actor: &Actor) -> bool {
        match *self {
            AccessEnded::User(id) => actor.user.id == id,
            AccessEnded::Session(id) => actor.session_id == Some(id),
            AccessEnded::Device(id) => actor.device.as_ref().is_some_and(|d| d.id == id),
            AccessEnded::Profile(id) => actor.user.profile_id == id,
            AccessEnded::SiteGroup(id) => actor.user.site_group_ids.contains(&id),
            AccessEnded::Organization(id) => {
                actor.user.organization_id == id
                    || actor.organization.id == id
                    || actor
                        .device
                        .as_ref()
                        .is_some_and(|d| d.organization_id == id)
            }
        }
    }
}

/// One item of the feed. Cheap to clone: a broadcast channel clones it for every receiver.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    Booking(Arc<FeedBooking>),
    AccessEnded(AccessEnded),
}

impl User {
    /// The user with every credential removed: what may be written into the event log and kept
    /// in memory for the feed.
    pub fn without_credentials(&self) -> User {
        User {
            password_hash: None,
            booking_code_hash: None,
            ..self.clone()
        }
    }
}
