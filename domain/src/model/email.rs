use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ids::{EmailId, OrganizationId};
use crate::values::{EmailAddress, Language};

/// The messages Concierge sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EmailKind {
    /// A new account's credentials (login, temporary password, booking code).
    Credentials,
    /// A link to accept an invitation and choose a password.
    Invitation,
    /// A link to choose a new password.
    PasswordReset,
    /// Notice that the password was changed.
    PasswordChanged,
    /// Notice that an administrator removed the person's second factor.
    SecondFactorReset,
    /// Notice that a booking was released for want of a check-in.
    BookingReleased,
    /// Welcome of a person created at their first sign-in through their organization's
    /// identity provider (with their booking code).
    SsoWelcome,
    /// Notice that an account of the organization's identity provider now signs in as them.
    SsoLinked,
    /// A booking made for the person, with the meeting for their calendar (`METHOD:REQUEST`).
    BookingConfirmed,
    /// A booking of theirs moved or renamed (`METHOD:REQUEST`, a later `SEQUENCE`).
    BookingChanged,
    /// A booking of theirs cancelled (`METHOD:CANCEL`).
    BookingCancelled,
}

/// A message in the transactional outbox: written in the same transaction as the change that
/// causes it, delivered afterwards by a worker with retries. Its parameters may hold secrets (a
/// temporary password, a link's token), so they are kept sealed (see `Secrets::seal`) and wiped
/// once the message is delivered or given up.
///
/// A message is pending (due now or later, counted in the backlog) until it is either sent
/// (`sent_at`) or abandoned (`abandoned_at`); see [`OutboundEmail::is_pending`].
#[derive(Clone, PartialEq)]
pub struct OutboundEmail {
    pub id: EmailId,
    pub organization_id: Option<OrganizationId>,
    pub to: EmailAddress,
    pub language: Language,
    pub kind: EmailKind,
    /// Sealed JSON of the template parameters; empty once delivered or abandoned.
    pub sealed_params: String,
    pub attempts: i32,
    /// Not to be tried before this instant (a claim by a worker pushes it forward). Meaningless
    /// once the message is sent or abandoned.
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When delivery was given up (after the last allowed failed attempt): the message is never
    /// claimed again, no longer counted as pending, and its parameters are wiped. `attempts` and
    /// `last_error` tell why.
    pub abandoned_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (never holds a parameter).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for OutboundEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundEmail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .field("sent_at", &self.sent_at)
            .field("abandoned_at", &self.abandoned_at)
            .finish_non_exhaustive()
    }
}

impl OutboundEmail {
    /// Neither sent nor abandoned: still to be delivered (due now or later). Only such messages
    /// are claimed and counted in the backlog.
    pub fn is_pending(&self) -> bool {
        self.sent_at.is_none() && self.abandoned_at.is_none()
    }
}

/// Template parameters of a message, by name (e.g. `name`, `login`, `link`).
pub type EmailParams = BTreeMap<String, String>;
