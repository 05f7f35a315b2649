use chrono::{DateTime, Utc};

use crate::ids::{SessionId, UserId};
use crate::values::Secret;

/// A signed-in session: one refresh-token family. The refresh token rotates on every use;
/// presenting a spent one revokes the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_token_hash: Secret,
    /// The hash of the token this one replaced, to recognise reuse of a spent token.
    pub previous_token_hash: Option<Secret>,
    /// The user's session epoch when the session began; older sessions are void.
    pub epoch: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session with everything a request needs to act in it, read together (one statement on
/// PostgreSQL): authentication checks the session and the person (`Domain::authenticate`), then
/// builds the actor from the rest without reading again.
#[derive(Debug, Clone)]
pub struct SessionWithPerson {
    pub session: Session,
    pub user: crate::model::User,
    pub organization: crate::model::Organization,
    pub profile: crate::model::Profile,
    /// The site groups granted to the user (their effective sites are computed from them).
    pub site_groups: Vec<crate::model::SiteGroup>,
    /// The organization requires a second factor of the people who manage users or clients.
    pub second_factor_required: bool,
    /// The user has a confirmed second factor.
    pub second_factor_confirmed: bool,
}
