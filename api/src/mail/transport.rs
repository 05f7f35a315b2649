//! Where rendered messages go: an SMTP server ([`SmtpTransport`], when `SMTP_URL` is set) or a
//! mailbox folder of `.eml` files ([`MailboxTransport`], the default, `MAIL_DIR`). Both format
//! the message with lettre's builder, so the files are exactly what SMTP would carry.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use concierge_domain::{EmailId, EmailKind};
use lettre::message::header::{ContentType, MIME_VERSION_1_0};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use super::MailError;
use super::templates::RenderedEmail;
use crate::config::Config;

/// A rendered message and what identifies it.
#[derive(Clone)]
pub struct OutgoingEmail {
    /// The outbox message's id: names the mailbox file and makes the `Message-ID`, so that a
    /// message delivered twice (a crash between sending and recording) carries the same one.
    pub id: EmailId,
    pub kind: EmailKind,
    /// The recipient's address.
    pub to: String,
    pub content: RenderedEmail,
}

impl std::fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Sends one rendered message. An error's text is recorded in the outbox: it must not quote the
/// message's content.
#[async_trait]
pub trait MailTransport: Send + Sync + 'static {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;

    /// A word for logs ("smtp", "mailbox").
    fn name(&self) -> &'static str;
}

/// The default sender.
pub const DEFAULT_MAIL_FROM: &str = "Concierge <no-reply@localhost>";

/// Longest wait for one SMTP command (connect, EHLO, DATA…): a stuck server fails the attempt
/// well within the worker's lease.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a sender like `Concierge <no-reply@example.com>` or `no-reply@example.com`.
pub fn parse_mailbox(raw: &str) -> Result<Mailbox, MailError> {
    raw.trim()
        .parse::<Mailbox>()
        .map_err(|_| MailError::Address("sender"))
}

/// SMTP at `SMTP_URL` when set, else the mailbox folder `MAIL_DIR`; both send as `MAIL_FROM`.
pub fn transport_from_config(config: &Config) -> Result<Arc<dyn MailTransport>, MailError> {
    let from = parse_mailbox(&config.mail_from)?;
    Ok(match &config.smtp_url {
        Some(url) => {
            tracing::info!(from = %from, "e-mail: delivering through SMTP_URL");
            Arc::new(SmtpTransport::from_url(url, from)?)
        }
        None => {
            tracing::info!(
                from = %from,
                mail_dir = %config.mail_dir.display(),
                "e-mail: no SMTP_URL, writing messages to the mailbox folder"
            );
            Arc::new(MailboxTransport::new(&config.mail_dir, from))
        }
    })
}

/// The RFC 5322 message: To, From, Subject (RFC 2047-encoded when not ASCII), Date,
/// Message-ID, MIME-Version, a `text/plain; charset=utf-8` body in 7bit, quoted-printable or
/// base64, whichever suits it.
pub fn build_message(
    from: &Mailbox,
    email: &OutgoingEmail,
    date: SystemTime,
) -> Result<Message, MailError> {
    let to: Mailbox = email
        .to
        .trim()
        .parse()
        .map_err(|_| MailError::Address("recipient"))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to.clone())
        .subject(email.content.subject.clone())
        .date(date)
        .message_id(Some(format!("<{}@{}>", email.id, from.email.domain())))
        .header(MIME_VERSION_1_0);
    let built = match &email.content.invitation {
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(email.content.body.clone()),
        // The text, and the meeting as an `.ics` whose content type names its method, which
        // is what Outlook and Google read to put it in the calendar.
        Some(invitation) => {
            let ics = invitation.to_ics(from.email.as_ref(), to.email.as_ref());
            let calendar_type = ContentType::parse(&format!(
                "text/calendar; charset=utf-8; method={}",
                invitation.method
            ))
            .map_err(|e| MailError::Transport(format!("calendar content type: {e}")))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(email.content.body.clone()))
                    .singlepart(Attachment::new("invite.ics".to_owned()).body(ics, calendar_type)),
            )
        }
    };
    built.map_err(|e| MailError::Transport(format!("building the message: {e}")))
}

/// Writes each message to `dir/<sortable-time>-<id>.eml`, atomically (a hidden temporary file,
/// synced, then renamed), and logs its recipient and kind.
#[derive(Debug, Clone)]
pub struct MailboxTransport {
    dir: PathBuf,
    from: Mailbox,
}

impl MailboxTransport {
    pub fn new(dir: impl Into<PathBuf>, from: Mailbox) -> Self {
        Self {
            dir: dir.into(),
            from,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// `20260301T093000.123456Z`: sorts as time does.
fn sortable(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.6fZ").to_string()
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.part"));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    } else if let Ok(handle) = std::fs::File::open(dir) {
        // Makes the rename durable where directories can be synced; best effort elsewhere.
        let _ = handle.sync_all();
    }
    result
}

#[async_trait]
impl MailTransport for MailboxTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let now = Utc::now();
        let message = build_message(&self.from, email, now.into())?;
        let name = format!("{}-{}.eml", sortable(now), email.id);
        let dir = self.dir.clone();
        let file = name.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &file, &message.formatted()))
            .await
            .map_err(|e| MailError::Transport(format!("mailbox task: {e}")))?
            .map_err(|e| MailError::Transport(format!("writing to the mailbox folder: {e}")))?;
        tracing::info!(
            to = %email.to,
            kind = ?email.kind,
            file = %name,
            "e-mail written to the mailbox folder"
        );
        Ok(())
    }

    fn name(&self) -> &'static str {
        "mailbox"
    }
}

/// Sends through an SMTP server. `SMTP_URL` is lettre's connection URL:
/// `smtp://host:port` (no TLS, for local relays and test sinks),
/// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
/// (implicit TLS, rustls with the Mozilla roots); a path (`smtp://host/client.example.com`)
/// sets the EHLO name. One connection per message.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: never printed.
        f.debug_struct("SmtpTransport")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    pub fn from_url(url: &str, from: Mailbox) -> Result<Self, MailError> {
        let inner = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("SMTP_URL: {e}")))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { inner, from })
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = build_message(&self.from, email, SystemTime::now())?;
        self.inner
            .send(message)
            .await
            .map_err(|e| MailError::Transport(format!("SMTP: {e}")))?;
        tracing::debug!(to = %email.to, kind = ?email.kind, "e-mail sent through SMTP");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}
