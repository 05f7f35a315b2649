//! Shared helpers: scratch folders, keys, outbox messages, a scripted transport, .eml parsing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use concierge_api::mail::{MailError, MailTransport, OutgoingEmail};
use concierge_domain::secrets::{Argon2Cost, Keys, Secrets};
use concierge_domain::storage::Storage;
use concierge_domain::values::{EmailAddress, Language};
use concierge_domain::{EmailId, EmailKind, EmailParams, OutboundEmail};

/// An empty folder of its own under the target directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "mail-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

pub fn secrets() -> Arc<Secrets> {
    Secrets::new(
        Keys {
            jwt: b"mail-test-jwt".to_vec(),
            pepper: b"mail-test-pepper".to_vec(),
            jwt_previous: None,
            pepper_previous: None,
        },
        Argon2Cost::FAST_INSECURE,
    )
    .expect("secrets")
}

pub fn params(pairs: &[(&str, &str)]) -> EmailParams {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Puts a message in the outbox, as the domain does: sealed parameters, due at `due`.
pub async fn enqueue(
    store: &dyn Storage,
    secrets: &Secrets,
    to: &str,
    kind: EmailKind,
    language: Language,
    params: &EmailParams,
    due: DateTime<Utc>,
) -> EmailId {
    let json = serde_json::to_string(params).expect("json");
    enqueue_sealed(
        store,
        to,
        kind,
        language,
        secrets.seal(&json).expect("seal"),
        due,
    )
    .await
}

/// Puts a message with these exact sealed parameters in the outbox.
pub async fn enqueue_sealed(
    store: &dyn Storage,
    to: &str,
    kind: EmailKind,
    language: Language,
    sealed_params: String,
    due: DateTime<Utc>,
) -> EmailId {
    let email = OutboundEmail {
        id: EmailId::new(),
        organization_id: None,
        to: EmailAddress::parse("to", to).expect("address"),
        language,
        kind,
        sealed_params,
        attempts: 0,
        next_attempt_at: due,
        sent_at: None,
        abandoned_at: None,
        last_error: None,
        created_at: due,
    };
    let mut tx = store.begin().await.expect("begin");
    tx.insert_email(&email).await.expect("insert");
    tx.commit().await.expect("commit");
    email.id
}

pub async fn stored(store: &dyn Storage, id: EmailId) -> OutboundEmail {
    store.email(id).await.expect("read").expect("the message")
}

/// Fails the first `failures` sends, then records what it is given.
pub struct ScriptedTransport {
    failures: usize,
    pub calls: AtomicUsize,
    pub delivered: Mutex<Vec<OutgoingEmail>>,
}

impl ScriptedTransport {
    pub fn failing_first(failures: usize) -> Arc<Self> {
        Arc::new(Self {
            failures,
            calls: AtomicUsize::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn delivered(&self) -> Vec<OutgoingEmail> {
        self.delivered.lock().expect("lock").clone()
    }
}

#[async_trait]
impl MailTransport for ScriptedTransport {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.failures {
            return Err(MailError::Transport(
                "SMTP: connection refused (simulated)".into(),
            ));
        }
        self.delivered.lock().expect("lock").push(email.clone());
        Ok(())
    }

    fn name(&self) -> &'static str {
        "scripted"
    }
}

/// The `.eml` files of a folder, sorted by name.
pub fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every entry of a folder, hidden ones included.
pub fn all_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// What a mail client sees of a message.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub raw: String,
    pub subject: String,
    pub from: String,
    pub from_name: Option<String>,
    pub to: String,
    pub message_id: Option<String>,
    pub has_date: bool,
    /// Decoded text, lines separated by `\n`.
    pub body: String,
}

impl Parsed {
    /// The raw value of a top-level header (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        // Files written by other software may end lines with LF alone.
        let raw = self.raw.replace("\r\n", "\n");
        let head = raw.split("\n\n").next().expect("a header section");
        let mut value: Option<String> = None;
        for line in head.lines() {
            if let Some(current) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    current.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }
}

pub fn parse_eml(bytes: &[u8]) -> Parsed {
    let message = mail_parser::MessageParser::default()
        .parse(bytes)
        .expect("a parseable RFC 5322 message");
    let from = message.from().and_then(|a| a.first()).expect("From");
    let to = message.to().and_then(|a| a.first()).expect("To");
    Parsed {
        raw: String::from_utf8(bytes.to_vec()).expect("the file is text"),
        subject: message.subject().expect("Subject").to_owned(),
        from: from.address().expect("From address").to_owned(),
        from_name: from.name().map(str::to_owned),
        to: to.address().expect("To address").to_owned(),
        message_id: message.message_id().map(str::to_owned),
        has_date: message.date().is_some(),
        body: message
            .body_text(0)
            .expect("a text body")
            .replace("\r\n", "\n"),
    }
}
