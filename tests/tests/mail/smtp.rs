//! Delivery through a real SMTP server (Python's aiosmtpd, writing what it receives to a
//! Maildir), configured by `SMTP_URL` as in production.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Utc;
use concierge_api::config::Config;
use concierge_api::mail::{
    FlushReport, OutboxWorker, OutgoingEmail, RenderedEmail, params as p, transport_from_config,
};
use concierge_domain::storage::Storage;
use concierge_domain::values::Language;
use concierge_domain::{EmailId, EmailKind};
use concierge_storage_memory::MemoryStore;

use crate::support::{enqueue, params, parse_eml, scratch_dir, secrets, stored};

/// The Python of a virtual environment with aiosmtpd, created on first use.
fn sink_python() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME must be set to keep the SMTP sink's environment");
    let venv = cache.join("concierge-smtp-sink-venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return python;
    }
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 is needed to run the SMTP sink (aiosmtpd)");
    assert!(created.success(), "python3 -m venv {venv:?} failed");
    let installed = Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "aiosmtpd"])
        .status()
        .expect("pip of the SMTP sink's environment");
    assert!(
        installed.success(),
        "pip could not install aiosmtpd into {venv:?}"
    );
    assert!(ready(&python), "aiosmtpd is still not importable");
    python
}

/// A running aiosmtpd that stores each message in `maildir/new`; killed on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpSink {
    async fn start() -> Self {
        let python = tokio::task::spawn_blocking(sink_python)
            .await
            .expect("install task");
        let maildir = scratch_dir("smtp-sink").join("Maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting aiosmtpd");
        let mut sink = SmtpSink {
            child,
            port,
            maildir,
        };
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Some(status) = sink.child.try_wait().expect("sink status") {
                let mut stderr = String::new();
                if let Some(mut err) = sink.child.stderr.take() {
                    use std::io::Read as _;
                    let _ = err.read_to_string(&mut stderr);
                }
                panic!("aiosmtpd exited ({status}): {stderr}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd did not listen on {port}"
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        sink
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, raw.
    fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read(f).expect("message"))
            .collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sink received {} of {count} messages",
                received.len()
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_vars(&vars).expect("configuration")
}

#[tokio::test]
async fn messages_reach_an_smtp_server_named_by_smtp_url() {
    let sink = SmtpSink::start().await;
    let config = config(&[
        ("SMTP_URL", &sink.url()),
        ("MAIL_FROM", "Concierge <no-reply@rooms.example.com>"),
    ]);
    let transport = transport_from_config(&config).expect("SMTP transport");
    assert_eq!(transport.name(), "smtp");

    // Straight through the transport…
    let direct = OutgoingEmail {
        id: EmailId::new(),
        kind: EmailKind::PasswordChanged,
        to: "marc@acme.example".into(),
        content: RenderedEmail {
            subject: "Votre mot de passe Concierge a été modifié".into(),
            body: "Bonjour Marc,\n\nÇa marche — 日本語 ✓\n".into(),
            invitation: None,
        },
    };
    transport.send(&direct).await.expect("sent");
    let received = sink.wait_for(1).await;
    let message = parse_eml(&received[0]);
    assert_eq!(
        message.subject,
        "Votre mot de passe Concierge a été modifié"
    );
    assert_eq!(message.body, "Bonjour Marc,\n\nÇa marche — 日本語 ✓\n");
    assert_eq!(message.to, "marc@acme.example");
    assert_eq!(message.from, "no-reply@rooms.example.com");
    let message_id = format!("{}@rooms.example.com", direct.id);
    assert_eq!(message.message_id.as_deref(), Some(message_id.as_str()));
    assert_eq!(
        message.header("X-RcptTo").as_deref(),
        Some("marc@acme.example")
    );

    // …and from the outbox, through the worker.
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let link = "https://rooms.example.com/invitation?token=tok-EN_123";
    let invitation = params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::INVITER, "Marc Dupont"),
        (p::ORGANIZATION, "Hôtel des Arts"),
        (p::LINK, link),
        (p::EXPIRES_AT, "2026-03-08T14:30:00Z"),
    ]);
    let id = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::Invitation,
        Language::Fr,
        &invitation,
        Utc::now(),
    )
    .await;
    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport);
    assert_eq!(
        worker.flush().await.expect("flush"),
        FlushReport {
            sent: 1,
            retried: 0,
            abandoned: 0
        }
    );
    let email = stored(&*store, id).await;
    assert!(email.sent_at.is_some() && email.sealed_params.is_empty());

    let received = sink.wait_for(2).await;
    let message = received
        .iter()
        .map(|raw| parse_eml(raw))
        .find(|m| m.to == "chloe@acme.example")
        .expect("the invitation");
    assert_eq!(
        message.subject,
        "Marc Dupont vous invite à rejoindre Hôtel des Arts sur Concierge"
    );
    assert!(
        message.body.starts_with("Bonjour Chloé Lefèvre,"),
        "{}",
        message.body
    );
    assert!(message.body.contains(link), "{}", message.body);
    assert!(
        message.body.contains("8 mars 2026 à 14:30 UTC"),
        "{}",
        message.body
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_means_a_retry() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // Nobody listens there any more.
    let config = config(&[("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]);
    let transport = transport_from_config(&config).expect("SMTP transport");
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let reset = params(&[
        (p::NAME, "Chloé"),
        (
            p::LINK,
            "https://rooms.example.com/reset-password?token=never-logged",
        ),
        (p::EXPIRES_AT, "2026-03-08T14:30:00Z"),
    ]);
    let id = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::PasswordReset,
        Language::En,
        &reset,
        Utc::now(),
    )
    .await;
    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport);
    assert_eq!(worker.flush().await.expect("flush").retried, 1);
    let email = stored(&*store, id).await;
    assert_eq!(email.attempts, 1);
    let error = email.last_error.expect("a reason");
    assert!(error.starts_with("SMTP:"), "{error}");
    assert!(!error.contains("never-logged"), "{error}");
}
