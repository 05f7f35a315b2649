//! A booking's e-mails carry the meeting as iCalendar (RFC 5546: `METHOD:REQUEST` when it is
//! made or changed, `CANCEL` when cancelled), read back from the delivered file by mail-parser
//! and by Python's icalendar, never by the writers.

use concierge_api::mail::{
    MailTransport as _, MailboxTransport, OutgoingEmail, params as p, parse_mailbox, render,
};
use concierge_domain::values::Language;
use concierge_domain::{EmailId, EmailKind};
use concierge_tests::ical::parse;
use mail_parser::MimeHeaders as _;

use crate::support::{eml_files, scratch_dir};

fn booking(sequence: &str) -> concierge_domain::EmailParams {
    crate::support::params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::ROOM, "Salle Atlas"),
        (p::START, "2027-03-02T08:00:00Z"),
        (p::END, "2027-03-02T09:00:00Z"),
        (p::TITLE, "Revue de conception"),
        (p::BOOKING, "0190f3a2-0000-7000-8000-000000000001"),
        (p::SEQUENCE, sequence),
    ])
}

/// Delivers `kind` through the mailbox transport; the text and the attached calendar as read
/// back.
async fn delivered(kind: EmailKind, sequence: &str) -> (String, String, String) {
    let dir = scratch_dir("invitation");
    let from = parse_mailbox("Concierge <no-reply@rooms.example.com>").expect("sender");
    let content = render(kind, Language::Fr, &booking(sequence)).expect("render");
    let email = OutgoingEmail {
        id: EmailId::new(),
        kind,
        to: "chloe@acme.example".into(),
        content,
    };
    MailboxTransport::new(&dir, from)
        .send(&email)
        .await
        .expect("written");
    let bytes = std::fs::read(&eml_files(&dir)[0]).expect("the file");
    let message = mail_parser::MessageParser::default()
        .parse(&bytes[..])
        .expect("a parseable message");
    let text = message.body_text(0).expect("a text part").into_owned();
    let attachment = message.attachment(0).expect("an attachment");
    let content_type = attachment.content_type().expect("a content type");
    let kind = format!(
        "{}/{}; method={}",
        content_type.ctype(),
        content_type.subtype().unwrap_or_default(),
        content_type.attribute("method").unwrap_or_default()
    );
    assert_eq!(attachment.attachment_name(), Some("invite.ics"));
    let ics = String::from_utf8(attachment.contents().to_vec()).expect("UTF-8 calendar");
    (text, kind, ics)
}

#[tokio::test]
async fn a_booking_made_or_changed_is_a_request_for_the_calendar() {
    let (text, content_type, ics) = delivered(EmailKind::BookingConfirmed, "0").await;
    assert!(text.starts_with("Bonjour Chloé"), "{text}");
    assert!(
        text.contains("Salle Atlas") && text.contains("Revue de conception"),
        "{text}"
    );
    assert_eq!(content_type, "text/calendar; method=REQUEST");
    let events = parse(&ics);
    assert_eq!(events.len(), 1, "{ics}");
    let meeting = &events[0];
    assert_eq!(meeting["method"], "REQUEST");
    assert_eq!(
        meeting["uid"],
        "0190f3a2-0000-7000-8000-000000000001@concierge"
    );
    assert_eq!(meeting["summary"], "Revue de conception");
    assert_eq!(meeting["location"], "Salle Atlas");
    assert_eq!(meeting["start"], "2027-03-02T08:00:00+00:00");
    assert_eq!(meeting["end"], "2027-03-02T09:00:00+00:00");
    assert_eq!(meeting["sequence"], "0");
    assert_eq!(meeting["status"], "CONFIRMED");
    assert_eq!(meeting["organizer"], "mailto:no-reply@rooms.example.com");
    assert_eq!(meeting["attendee"], "mailto:chloe@acme.example");

    // A change: the same UID, a later SEQUENCE, so the calendar updates its copy.
    let (_, content_type, ics) = delivered(EmailKind::BookingChanged, "3600").await;
    assert_eq!(content_type, "text/calendar; method=REQUEST");
    let changed = &parse(&ics)[0];
    assert_eq!(changed["uid"], meeting["uid"]);
    assert_eq!(changed["sequence"], "3600");
}

#[tokio::test]
async fn a_cancelled_booking_is_a_cancel_for_the_calendar() {
    let (text, content_type, ics) = delivered(EmailKind::BookingCancelled, "7200").await;
    assert!(text.contains("annulée"), "{text}");
    assert_eq!(content_type, "text/calendar; method=CANCEL");
    let cancelled = &parse(&ics)[0];
    assert_eq!(cancelled["method"], "CANCEL");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(
        cancelled["uid"],
        "0190f3a2-0000-7000-8000-000000000001@concierge"
    );
}
