use chrono::{DateTime, Utc};

use crate::ids::{PasswordResetId, UserId};
use crate::values::Secret;

/// A single-use, expiring password-reset link (its token is kept hashed).
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordResetToken {
    pub id: PasswordResetId,
    pub user_id: UserId,
    pub token_hash: Secret,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
