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
