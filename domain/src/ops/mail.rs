//! What Concierge e-mails, decided here and written to the transactional outbox in the same
//! transaction as the change that causes it; the API's mail worker renders and delivers it.

use crate::error::{DomainError, DomainResult};
use crate::ids::{EmailId, OrganizationId};
use crate::model::*;
use crate::ops::Domain;
use crate::storage::Writes;
use crate::values::{EmailAddress, Language};

/// Template parameter names, shared with the renderer.
pub mod params {
    pub const NAME: &str = "name";
    pub const LOGIN: &str = "login";
    pub const TEMPORARY_PASSWORD: &str = "temporary_password";
    pub const BOOKING_CODE: &str = "booking_code";
    pub const ORGANIZATION: &str = "organization";
    pub const INVITER: &str = "inviter";
    pub const LINK: &str = "link";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const AT: &str = "at";
    pub const ROOM: &str = "room";
    pub const START: &str = "start";
    pub const END: &str = "end";
    pub const TITLE: &str = "title";
    /// A booking's id: the calendar's `UID`.
    pub const BOOKING: &str = "booking";
    /// The change's instant as a number (the calendar's `SEQUENCE`: later changes win).
    pub const SEQUENCE: &str = "sequence";
    /// A series' rule (`RRULE` value), in the site's time zone `TIME_ZONE`.
    pub const RRULE: &str = "rrule";
    pub const TIME_ZONE: &str = "time_zone";
    /// The starts a series' rule made that it does not book (`EXDATE`), comma-separated.
    pub const EXDATES: &str = "exdates";
    /// Occurrences of a series this message is about, `;`-separated: the start the rule gave
    /// each (`RECURRENCE-ID`), then `,start,end` where it is now (absent: cancelled).
    pub const INSTANCES: &str = "instances";
}

/// A message to put in the outbox.
pub(crate) struct Mail {
    pub organization: Option<OrganizationId>,
    pub to: EmailAddress,
    pub language: Language,
    pub kind: EmailKind,
    pub params: EmailParams,
}

impl Domain {
    /// Seals the message's parameters and writes it to the outbox of `tx`.
    pub(crate) async fn enqueue(&self, tx: &mut dyn Writes, mail: Mail) -> DomainResult<()> {
        let email = self.outbound(mail)?;
        tx.insert_email(&email).await?;
        Ok(())
    }

    /// The outbox row of `mail`, its parameters sealed, due now (to insert with others at once:
    /// `Writes::insert_emails`).
    pub(crate) fn outbound(&self, mail: Mail) -> DomainResult<OutboundEmail> {
        let json = serde_json::to_string(&mail.params)
            .map_err(|e| DomainError::internal(format!("e-mail parameters: {e}")))?;
        let now = self.now();
        Ok(OutboundEmail {
            id: EmailId::new(),
            organization_id: mail.organization,
            to: mail.to,
            language: mail.language,
            kind: mail.kind,
            sealed_params: self.secrets.seal(&json)?,
            attempts: 0,
            next_attempt_at: now,
            sent_at: None,
            abandoned_at: None,
            last_error: None,
            created_at: now,
        })
    }

    /// `{public_url}/{path}?token={token}`; tokens are URL-safe already.
    pub(crate) fn link(&self, path: &str, token: &str) -> String {
        format!(
            "{}/{path}?token={token}",
            self.config.public_url.trim_end_matches('/')
        )
    }
}

/// Builds a parameter map from pairs.
pub(crate) fn mail_params<const N: usize>(pairs: [(&str, String); N]) -> EmailParams {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
