//! Typed identifiers. Every ID is a UUIDv7 (time-ordered, so storage order is creation order and
//! keyset pagination needs no extra column); clients see it as an opaque string.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }
    )+};
}

typed_id!(
    OrganizationId,
    UserId,
    ProfileId,
    SiteId,
    SiteGroupId,
    RoomId,
    PriceListId,
    InvitationId,
    BookingId,
    BookingSeriesId,
    AuditEventId,
    DeviceId,
    SessionId,
    EmailId,
    PasswordResetId,
    ScimTokenId,
    SsoLoginId,
    CalendarFeedId,
);
