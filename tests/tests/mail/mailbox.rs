//! The mailbox transport writes one RFC 5322 file per message, that mail software reads back.

use std::collections::HashMap;

use concierge_api::config::Config;
use concierge_api::mail::{
    MailError, MailTransport as _, MailboxTransport, OutgoingEmail, RenderedEmail, parse_mailbox,
    transport_from_config,
};
use concierge_domain::{EmailId, EmailKind};

use crate::support::{all_entries, eml_files, parse_eml, scratch_dir};

fn outgoing(subject: &str, body: &str) -> OutgoingEmail {
    OutgoingEmail {
        id: EmailId::new(),
        kind: EmailKind::PasswordReset,
        to: "chloe@acme.example".into(),
        content: RenderedEmail {
            subject: subject.into(),
            body: body.into(),
            invitation: None,
        },
    }
}

#[tokio::test]
async fn a_message_becomes_one_parseable_eml_file() {
    let dir = scratch_dir("eml").join("not-yet-created");
    let from = parse_mailbox("Concierge <no-reply@rooms.example.com>").expect("sender");
    let transport = MailboxTransport::new(&dir, from);
    let subject = "Réinitialisation de votre mot de passe Concierge";
    let body = "Bonjour Chloé,\n\nSuivez ce lien\u{a0}:\n\nhttps://rooms.example.com/reset-password?token=Zz9-_q\n\n— Concierge — 日本語 ✓\n";
    let email = outgoing(subject, body);
    transport.send(&email).await.expect("written");

    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "{:?}", all_entries(&dir));
    assert_eq!(all_entries(&dir).len(), 1, "no temporary file is left");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (time, rest) = name.split_once('-').expect("<time>-<id>.eml");
    assert_eq!(rest, format!("{}.eml", email.id));
    assert!(
        time.starts_with("20") && time.ends_with('Z') && time.contains('T'),
        "{name}"
    );

    let bytes = std::fs::read(&files[0]).expect("file");
    assert!(bytes.is_ascii(), "headers and body are transfer-encoded");
    let parsed = parse_eml(&bytes);
    assert_eq!(parsed.subject, subject);
    assert_eq!(parsed.body, body);
    assert_eq!(parsed.to, "chloe@acme.example");
    assert_eq!(parsed.from, "no-reply@rooms.example.com");
    assert_eq!(parsed.from_name.as_deref(), Some("Concierge"));
    assert!(parsed.has_date);
    let message_id = format!("{}@rooms.example.com", email.id);
    assert_eq!(parsed.message_id.as_deref(), Some(message_id.as_str()));

    let raw_subject = parsed.header("Subject").expect("Subject");
    assert!(
        raw_subject.to_ascii_lowercase().starts_with("=?utf-8?"),
        "RFC 2047: {raw_subject}"
    );
    assert_eq!(parsed.header("MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(
        parsed
            .header("Content-Type")
            .map(|v| v.to_ascii_lowercase())
            .as_deref(),
        Some("text/plain; charset=utf-8")
    );
    let encoding = parsed
        .header("Content-Transfer-Encoding")
        .expect("a transfer encoding");
    assert!(
        ["quoted-printable", "base64"].contains(&encoding.to_ascii_lowercase().as_str()),
        "{encoding}"
    );
    assert!(parsed.header("Date").is_some());
}

#[tokio::test]
async fn ascii_messages_are_readable_as_they_are_and_files_sort_by_time() {
    let dir = scratch_dir("order");
    let from = parse_mailbox("no-reply@localhost").expect("sender");
    let transport = MailboxTransport::new(&dir, from);
    let mut ids = Vec::new();
    for n in 0..3 {
        let email = outgoing(&format!("Message {n}"), &format!("Hello,\n\nnumber {n}\n"));
        ids.push(email.id);
        transport.send(&email).await.expect("written");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let files = eml_files(&dir);
    assert_eq!(files.len(), 3);
    for (n, (file, id)) in files.iter().zip(&ids).enumerate() {
        assert!(
            file.to_string_lossy().ends_with(&format!("-{id}.eml")),
            "{file:?}"
        );
        let parsed = parse_eml(&std::fs::read(file).expect("file"));
        assert_eq!(parsed.subject, format!("Message {n}"));
        assert_eq!(parsed.body, format!("Hello,\n\nnumber {n}\n"));
    }
}

#[tokio::test]
async fn a_bad_recipient_fails_without_a_file() {
    let dir = scratch_dir("bad-recipient");
    let transport =
        MailboxTransport::new(&dir, parse_mailbox("no-reply@localhost").expect("sender"));
    let mut email = outgoing("Subject", "Body\n");
    email.to = "not an address".into();
    assert_eq!(
        transport.send(&email).await,
        Err(MailError::Address("recipient"))
    );
    assert!(eml_files(&dir).is_empty());
}

fn config(pairs: &[(&str, &str)]) -> Result<Config, String> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_vars(&vars).map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_configuration_chooses_the_transport_and_the_sender() {
    let dir = scratch_dir("config");
    let defaults = config(&[("MAIL_DIR", dir.to_str().expect("utf-8 path"))]).expect("config");
    assert_eq!(defaults.mail_from, "Concierge <no-reply@localhost>");
    let transport = transport_from_config(&defaults).expect("mailbox transport");
    assert_eq!(transport.name(), "mailbox");
    let email = outgoing("Hi", "Body\n");
    transport.send(&email).await.expect("written");
    let parsed = parse_eml(&std::fs::read(&eml_files(&dir)[0]).expect("file"));
    assert_eq!(parsed.from, "no-reply@localhost");

    let smtp = config(&[
        ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ("MAIL_FROM", "Rooms <rooms@example.com>"),
    ])
    .expect("config");
    assert_eq!(
        transport_from_config(&smtp).expect("smtp transport").name(),
        "smtp"
    );

    let bad_sender = config(&[("MAIL_FROM", "not a mailbox")]).expect("config");
    assert_eq!(
        transport_from_config(&bad_sender).err(),
        Some(MailError::Address("sender"))
    );
    let bad_url = config(&[("SMTP_URL", "ftp://mail.example.com")]).expect("config");
    assert!(matches!(
        transport_from_config(&bad_url).err(),
        Some(MailError::Config(_))
    ));
}
