//! E-mail delivery: the worker that empties the transactional outbox, the templates it renders
//! and the transports it sends through (DESIGN.md §6, §9).
//!
//! The domain decides *what* to send: in the same transaction as the change that causes it, it
//! writes an [`OutboundEmail`](concierge_domain::OutboundEmail) whose parameters are sealed JSON
//! of an [`EmailParams`](concierge_domain::EmailParams) map. This module decides *how*: the
//! [`OutboxWorker`] claims due messages, opens their parameters, renders them in the recipient's
//! language ([`templates`]), hands them to a [`MailTransport`] (SMTP at `SMTP_URL`, else one
//! `.eml` file per message in `MAIL_DIR`) and records the outcome, retrying failures with an
//! exponential backoff.
//!
//! # Template parameters
//!
//! The names are the constants of [`params`] (defined once, in the domain, and used by both the
//! operations that enqueue messages and the templates that render them). Dates are RFC 3339
//! instants (`DateTime::to_rfc3339`); links are full URLs the domain builds from `PUBLIC_URL`.
//! A missing required parameter makes the attempt fail: a message is never sent half-empty.
//!
//! | kind              | required                                              | optional                              |
//! |-------------------|-------------------------------------------------------|---------------------------------------|
//! | `Credentials`     | `name`, `login`, `organization`                       | `temporary_password`, `booking_code`  |
//! | `Invitation`      | `name`, `inviter`, `organization`, `link`, `expires_at` |                                     |
//! | `PasswordReset`   | `name`, `link`, `expires_at`                          |                                       |
//! | `PasswordChanged` | `name`, `at`                                          |                                       |
//! | `SecondFactorReset` | `name`, `at`                                        |                                       |
//! | `BookingReleased` | `name`, `room`, `start`                               |                                       |
//!
//! - `name`: display name of the person the account is for; `inviter`: display name of who
//!   invited them; `organization`: the organization's name.
//! - `login`: the e-mail or username to sign in with; `temporary_password`, `booking_code`: the
//!   generated secrets, shown once.
//! - `link`: `{PUBLIC_URL}/invitation?token=…` or `{PUBLIC_URL}/reset-password?token=…`;
//!   `expires_at`: when that link stops working; `at`: when the password was changed.
//! - `room`: the room's name; `start`: when the released booking was to start.
//!
//! Credentials may go to the organization's admin e-mail instead of the user, so that message
//! speaks of "the account of {name}" rather than to {name}.
//!
//! # Use
//!
//! ```ignore
//! let handle = mail::start_outbox(&config, &state)?;   // transport from config, task spawned
//! handle.flush().await?;                               // deliver everything due now
//! handle.shutdown().await;                             // final flush, then the task ends
//! ```

pub mod templates;
pub mod transport;
pub mod worker;

pub use concierge_domain::ops::params;
pub use templates::{RenderedEmail, render};
pub use transport::{
    MailTransport, MailboxTransport, OutgoingEmail, SmtpTransport, parse_mailbox,
    transport_from_config,
};
pub use worker::{FlushReport, OutboxHandle, OutboxWorker, RetryPolicy};

use std::sync::Arc;

use crate::app::AppState;
use crate::config::Config;

/// Why a message could not be rendered or sent. Its text is what the outbox keeps as
/// `last_error`: it names parameters, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The sealed parameters do not open (other key) or are not a JSON map of strings.
    #[error("the message's parameters cannot be opened")]
    SealedParams,
    #[error("missing template parameter `{0}`")]
    MissingParam(&'static str),
    #[error("template parameter `{0}` is malformed")]
    InvalidParam(&'static str),
    /// The recipient or sender address is not one lettre accepts.
    #[error("invalid {0} address")]
    Address(&'static str),
    /// Writing the mailbox file, or talking to the SMTP server, failed.
    #[error("{0}")]
    Transport(String),
    /// The transport cannot be built from the configuration.
    #[error("mail configuration: {0}")]
    Config(String),
}

impl MailError {
    /// The reason recorded in the outbox: short, one line.
    pub fn reason(&self) -> String {
        const LIMIT: usize = 200;
        let text: String = self
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match text.char_indices().nth(LIMIT) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }
}

/// Builds the transport the configuration asks for and starts the outbox worker on the
/// application's storage, keys and clock. Call [`OutboxHandle::shutdown`] before exiting.
pub fn start_outbox(config: &Config, state: &AppState) -> Result<OutboxHandle, MailError> {
    let transport = transport_from_config(config)?;
    if config.smtp_url.is_none() && config.production {
        tracing::warn!(
            mail_dir = %config.mail_dir.display(),
            "SMTP_URL not set: e-mails are written to MAIL_DIR, not sent"
        );
    }
    let worker =
        OutboxWorker::for_domain(&state.domain, transport).with_metrics(Arc::clone(&state.metrics));
    Ok(worker.start())
}
