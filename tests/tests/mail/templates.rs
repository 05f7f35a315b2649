//! Every kind renders in English and French from its parameters, and refuses to render without
//! a required one.

use concierge_api::mail::{MailError, params as p, render};
use concierge_domain::EmailKind;
use concierge_domain::values::Language;

use crate::support::params;

const LINK_INVITE: &str = "https://rooms.example.com/invitation?token=AbC-123_xyz";
const LINK_RESET: &str = "https://rooms.example.com/reset-password?token=Zz9-_q";

fn credentials() -> concierge_domain::EmailParams {
    params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::LOGIN, "chloe.lefevre@acme.example"),
        (p::TEMPORARY_PASSWORD, "Tmp-pass-7Hk2"),
        (p::BOOKING_CODE, "4815162342"),
        (p::ORGANIZATION, "Hôtel des Arts"),
    ])
}

fn invitation() -> concierge_domain::EmailParams {
    params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::INVITER, "Marc Dupont"),
        (p::ORGANIZATION, "Hôtel des Arts"),
        (p::LINK, LINK_INVITE),
        (p::EXPIRES_AT, "2026-03-08T14:30:00+00:00"),
    ])
}

fn reset() -> concierge_domain::EmailParams {
    params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::LINK, LINK_RESET),
        (p::EXPIRES_AT, "2026-03-01T10:15:00Z"),
    ])
}

fn changed() -> concierge_domain::EmailParams {
    params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::AT, "2026-12-24T18:05:09.123+00:00"),
    ])
}

/// A French message greets and speaks in French; an English one in English.
fn assert_language(text: &str, language: Language) {
    let (greeting, foreign, words) = match language {
        Language::Fr => ("Bonjour", "Hello", ["vous", "votre", "de"]),
        Language::En => ("Hello", "Bonjour", ["you", "your", "the"]),
    };
    assert!(text.starts_with(greeting), "expected {language:?}:\n{text}");
    assert!(
        !text.contains(foreign),
        "{language:?} text greets in another language:\n{text}"
    );
    for word in words {
        assert!(
            text.split(|c: char| !c.is_alphanumeric())
                .any(|w| w == word),
            "{language:?} text lacks '{word}':\n{text}"
        );
    }
}

#[test]
fn credentials_carry_login_password_and_booking_code() {
    for language in [Language::En, Language::Fr] {
        let email = render(EmailKind::Credentials, language, &credentials()).expect("render");
        assert!(email.subject.contains("Chloé Lefèvre"), "{}", email.subject);
        assert!(
            email.subject.contains("Hôtel des Arts"),
            "{}",
            email.subject
        );
        for value in [
            "Chloé Lefèvre",
            "chloe.lefevre@acme.example",
            "Tmp-pass-7Hk2",
            "4815162342",
            "Hôtel des Arts",
        ] {
            assert!(
                email.body.contains(value),
                "{language:?} lacks {value}:\n{}",
                email.body
            );
        }
        assert_language(&email.body, language);
    }
    let fr = render(EmailKind::Credentials, Language::Fr, &credentials()).expect("render");
    assert!(
        fr.subject.starts_with("Identifiants de connexion"),
        "{}",
        fr.subject
    );
    for phrase in [
        "Identifiant\u{a0}: chloe.lefevre@acme.example",
        "Mot de passe temporaire\u{a0}: Tmp-pass-7Hk2",
        "Code de réservation\u{a0}: 4815162342",
        "tablettes",
    ] {
        assert!(fr.body.contains(phrase), "lacks {phrase}:\n{}", fr.body);
    }
    let en = render(EmailKind::Credentials, Language::En, &credentials()).expect("render");
    for phrase in [
        "Login: chloe.lefevre@acme.example",
        "Temporary password: Tmp-pass-7Hk2",
        "Booking code: 4815162342",
    ] {
        assert!(en.body.contains(phrase), "lacks {phrase}:\n{}", en.body);
    }
}

#[test]
fn credentials_without_the_optional_secrets_say_nothing_of_them() {
    let mut only_login = credentials();
    only_login.remove(p::TEMPORARY_PASSWORD);
    only_login.remove(p::BOOKING_CODE);
    let en = render(EmailKind::Credentials, Language::En, &only_login).expect("render");
    assert!(en.body.contains("Login: chloe.lefevre@acme.example"));
    assert!(!en.body.contains("Temporary password") && !en.body.contains("Booking code"));
    let fr = render(EmailKind::Credentials, Language::Fr, &only_login).expect("render");
    assert!(
        !fr.body.contains("Mot de passe temporaire") && !fr.body.contains("Code de réservation")
    );

    let mut code_only = credentials();
    code_only.remove(p::TEMPORARY_PASSWORD);
    let fr = render(EmailKind::Credentials, Language::Fr, &code_only).expect("render");
    assert!(fr.body.contains("Code de réservation\u{a0}: 4815162342"));
    assert!(!fr.body.contains("temporaire"));
}

#[test]
fn invitations_carry_the_inviter_the_link_and_its_expiry() {
    let en = render(EmailKind::Invitation, Language::En, &invitation()).expect("render");
    assert_eq!(
        en.subject,
        "Marc Dupont invites you to join Hôtel des Arts on Concierge"
    );
    assert!(en.body.starts_with("Hello Chloé Lefèvre,"), "{}", en.body);
    assert!(
        en.body.contains(&format!("\n{LINK_INVITE}\n")),
        "{}",
        en.body
    );
    assert!(
        en.body.contains("March 8, 2026 at 14:30 UTC"),
        "{}",
        en.body
    );
    assert_language(&en.body, Language::En);

    let fr = render(EmailKind::Invitation, Language::Fr, &invitation()).expect("render");
    assert_eq!(
        fr.subject,
        "Marc Dupont vous invite à rejoindre Hôtel des Arts sur Concierge"
    );
    assert!(fr.body.starts_with("Bonjour Chloé Lefèvre,"), "{}", fr.body);
    assert!(
        fr.body.contains(&format!("\n{LINK_INVITE}\n")),
        "{}",
        fr.body
    );
    assert!(fr.body.contains("8 mars 2026 à 14:30 UTC"), "{}", fr.body);
    assert!(fr.body.contains("établissements"), "{}", fr.body);
    assert!(fr.body.contains("mot de passe"), "{}", fr.body);
}

#[test]
fn password_resets_carry_the_link_and_its_expiry() {
    let en = render(EmailKind::PasswordReset, Language::En, &reset()).expect("render");
    assert_eq!(en.subject, "Reset your Concierge password");
    assert!(en.body.contains("Hello Chloé Lefèvre,"));
    assert!(
        en.body.contains(&format!("\n{LINK_RESET}\n")),
        "{}",
        en.body
    );
    assert!(
        en.body.contains("March 1, 2026 at 10:15 UTC"),
        "{}",
        en.body
    );

    let fr = render(EmailKind::PasswordReset, Language::Fr, &reset()).expect("render");
    assert_eq!(
        fr.subject,
        "Réinitialisation de votre mot de passe Concierge"
    );
    assert!(fr.body.contains("Bonjour Chloé Lefèvre,"));
    assert!(
        fr.body.contains(&format!("\n{LINK_RESET}\n")),
        "{}",
        fr.body
    );
    assert!(fr.body.contains("1er mars 2026 à 10:15 UTC"), "{}", fr.body);
    assert_language(&fr.body, Language::Fr);
}

#[test]
fn password_change_notices_say_when() {
    let en = render(EmailKind::PasswordChanged, Language::En, &changed()).expect("render");
    assert_eq!(en.subject, "Your Concierge password was changed");
    assert!(en.body.contains("Hello Chloé Lefèvre,"));
    assert!(
        en.body.contains("December 24, 2026 at 18:05 UTC"),
        "{}",
        en.body
    );
    let fr = render(EmailKind::PasswordChanged, Language::Fr, &changed()).expect("render");
    assert_eq!(fr.subject, "Votre mot de passe Concierge a été modifié");
    assert!(fr.body.contains("Bonjour Chloé Lefèvre,"));
    assert!(
        fr.body.contains("24 décembre 2026 à 18:05 UTC"),
        "{}",
        fr.body
    );
    assert_language(&fr.body, Language::Fr);
}

#[test]
fn second_factor_reset_notices_say_when() {
    let en = render(EmailKind::SecondFactorReset, Language::En, &changed()).expect("render");
    assert_eq!(en.subject, "Your Concierge second factor was removed");
    assert!(en.body.contains("Hello Chloé Lefèvre,"));
    assert!(
        en.body.contains("December 24, 2026 at 18:05 UTC"),
        "{}",
        en.body
    );
    let fr = render(EmailKind::SecondFactorReset, Language::Fr, &changed()).expect("render");
    assert_eq!(
        fr.subject,
        "Le second facteur de votre compte Concierge a été supprimé"
    );
    assert!(fr.body.contains("Bonjour Chloé Lefèvre,"));
    assert!(
        fr.body.contains("24 décembre 2026 à 18:05 UTC"),
        "{}",
        fr.body
    );
    assert_language(&fr.body, Language::Fr);
}

#[test]
fn every_required_parameter_is_required() {
    let cases = [
        (
            EmailKind::Credentials,
            credentials(),
            vec![p::NAME, p::LOGIN, p::ORGANIZATION],
        ),
        (
            EmailKind::Invitation,
            invitation(),
            vec![p::NAME, p::INVITER, p::ORGANIZATION, p::LINK, p::EXPIRES_AT],
        ),
        (
            EmailKind::PasswordReset,
            reset(),
            vec![p::NAME, p::LINK, p::EXPIRES_AT],
        ),
        (EmailKind::PasswordChanged, changed(), vec![p::NAME, p::AT]),
        (
            EmailKind::SecondFactorReset,
            changed(),
            vec![p::NAME, p::AT],
        ),
        (
            EmailKind::SsoWelcome,
            params(&[
                (p::NAME, "Ada Lovelace"),
                (p::ORGANIZATION, "Acme"),
                (p::LOGIN, "ada@acme.test"),
                (p::BOOKING_CODE, "1234567890"),
            ]),
            vec![p::NAME, p::ORGANIZATION, p::LOGIN, p::BOOKING_CODE],
        ),
        (
            EmailKind::BookingConfirmed,
            params(&[
                (p::NAME, "Ada Lovelace"),
                (p::ROOM, "Atlas"),
                (p::START, "2027-03-02T08:00:00Z"),
                (p::END, "2027-03-02T09:00:00Z"),
                (p::BOOKING, "0190f3a2-0000-7000-8000-000000000001"),
            ]),
            vec![p::NAME, p::ROOM, p::START, p::END, p::BOOKING],
        ),
        (
            EmailKind::SsoLinked,
            params(&[(p::NAME, "Ada Lovelace"), (p::ORGANIZATION, "Acme")]),
            vec![p::NAME, p::ORGANIZATION],
        ),
    ];
    for (kind, full, required) in cases {
        for language in [Language::En, Language::Fr] {
            assert!(render(kind, language, &full).is_ok());
            for name in &required {
                let mut missing = full.clone();
                missing.remove(*name);
                assert_eq!(
                    render(kind, language, &missing),
                    Err(MailError::MissingParam(name)),
                    "{kind:?} without {name}"
                );
                let mut blank = full.clone();
                blank.insert((*name).to_owned(), "  ".into());
                assert_eq!(
                    render(kind, language, &blank),
                    Err(MailError::MissingParam(name)),
                    "{kind:?} with a blank {name}"
                );
            }
        }
    }
    let mut bad_date = reset();
    bad_date.insert(p::EXPIRES_AT.into(), "next tuesday".into());
    let error = render(EmailKind::PasswordReset, Language::En, &bad_date).expect_err("bad date");
    assert_eq!(error, MailError::InvalidParam("expires_at"));
    assert!(!error.reason().contains("tuesday"));
}

#[test]
fn the_parameter_names_are_the_documented_ones() {
    assert_eq!(
        [
            p::NAME,
            p::LOGIN,
            p::TEMPORARY_PASSWORD,
            p::BOOKING_CODE,
            p::ORGANIZATION
        ],
        [
            "name",
            "login",
            "temporary_password",
            "booking_code",
            "organization"
        ]
    );
    assert_eq!(
        [p::INVITER, p::LINK, p::EXPIRES_AT, p::AT],
        ["inviter", "link", "expires_at", "at"]
    );
}

#[test]
fn a_person_created_at_their_first_single_sign_on_gets_their_booking_code_in_their_language() {
    let welcome = params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::ORGANIZATION, "Hôtel des Arts"),
        (p::LOGIN, "chloe@acme.example"),
        (p::BOOKING_CODE, "4815162342"),
    ]);
    for language in [Language::En, Language::Fr] {
        let mail = render(EmailKind::SsoWelcome, language, &welcome).expect("render");
        assert_language(&mail.body, language);
        assert!(mail.body.contains("4815162342"), "{}", mail.body);
        assert!(mail.subject.contains("Hôtel des Arts"), "{}", mail.subject);
        let linked = render(EmailKind::SsoLinked, language, &welcome).expect("render");
        assert_language(&linked.body, language);
        assert!(!linked.body.contains("4815162342"), "no code in a notice");
    }
}

#[test]
fn a_released_booking_names_the_room_and_its_start() {
    let released = params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::ROOM, "Salle Curie"),
        (p::START, "2026-12-24T09:00:00Z"),
    ]);
    let en = render(EmailKind::BookingReleased, Language::En, &released).expect("render");
    assert_eq!(en.subject, "Your booking of Salle Curie was released");
    assert!(en.body.contains("Hello Chloé Lefèvre,"));
    assert!(
        en.body.contains("December 24, 2026 at 09:00 UTC"),
        "{}",
        en.body
    );
    let fr = render(EmailKind::BookingReleased, Language::Fr, &released).expect("render");
    assert_eq!(fr.subject, "Votre réservation de Salle Curie a été libérée");
    assert!(fr.body.contains("Bonjour Chloé Lefèvre,"));
    assert!(
        fr.body.contains("24 décembre 2026 à 09:00 UTC"),
        "{}",
        fr.body
    );
    assert_language(&fr.body, Language::Fr);
    let without_room = params(&[
        (p::NAME, "Chloé Lefèvre"),
        (p::START, "2026-12-24T09:00:00Z"),
    ]);
    assert!(matches!(
        render(EmailKind::BookingReleased, Language::En, &without_room),
        Err(MailError::MissingParam("room"))
    ));
}
