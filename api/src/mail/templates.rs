//! Subjects and plain-text bodies of the messages, in English and French. Parameter names and
//! which are required: see the table in the [module docs](super).

use chrono::{DateTime, Datelike, Timelike, Utc};
use concierge_domain::ops::params;
use concierge_domain::values::Language;
use concierge_domain::{EmailKind, EmailParams};

use super::MailError;

/// A message ready for a transport.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, no control characters.
    pub subject: String,
    /// UTF-8 plain text, lines separated by `\n`.
    pub body: String,
    /// The meeting of a booking's e-mail, attached as iCalendar.
    pub invitation: Option<crate::calendar::Invitation>,
}

impl std::fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold a temporary password or a link's token.
        f.debug_struct("RenderedEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Renders `kind` in `language` from `params`; fails when a required parameter is missing or
/// empty, or a date is not RFC 3339.
pub fn render(
    kind: EmailKind,
    language: Language,
    params: &EmailParams,
) -> Result<RenderedEmail, MailError> {
    let p = Params(params);
    let (subject, body) = match kind {
        EmailKind::Credentials => credentials(&p, language)?,
        EmailKind::Invitation => invitation(&p, language)?,
        EmailKind::PasswordReset => password_reset(&p, language)?,
        EmailKind::PasswordChanged => password_changed(&p, language)?,
        EmailKind::SecondFactorReset => second_factor_reset(&p, language)?,
        EmailKind::SsoWelcome => sso_welcome(&p, language)?,
        EmailKind::SsoLinked => sso_linked(&p, language)?,
        EmailKind::BookingReleased => booking_released(&p, language)?,
        EmailKind::BookingConfirmed | EmailKind::BookingChanged | EmailKind::BookingCancelled => {
            booking_notice(kind, &p, language)?
        }
    };
    Ok(RenderedEmail {
        subject: one_line(&subject),
        body,
        invitation: crate::calendar::Invitation::of(kind, params),
    })
}

struct Params<'a>(&'a EmailParams);

impl Params<'_> {
    fn required(&self, name: &'static str) -> Result<&str, MailError> {
        self.optional(name).ok_or(MailError::MissingParam(name))
    }

    fn optional(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A required RFC 3339 instant, written for people in `language`.
    fn instant(&self, name: &'static str, language: Language) -> Result<String, MailError> {
        let raw = self.required(name)?;
        let at = DateTime::parse_from_rfc3339(raw)
            .map_err(|_| MailError::InvalidParam(name))?
            .with_timezone(&Utc);
        Ok(human_date(at, language))
    }
}

const SIGNATURE: &str = "— Concierge";

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// "March 8, 2026 at 14:30 UTC" / "8 mars 2026 à 14:30 UTC". The recipient's time zone is not
/// known here, so the time is given in UTC and says so.
fn human_date(at: DateTime<Utc>, language: Language) -> String {
    let month = at.month0() as usize;
    let (day, year, hour, minute) = (at.day(), at.year(), at.hour(), at.minute());
    match language {
        Language::En => format!(
            "{} {day}, {year} at {hour:02}:{minute:02} UTC",
            MONTHS_EN[month]
        ),
        Language::Fr => {
            let day = if day == 1 {
                "1er".to_owned()
            } else {
                day.to_string()
            };
            format!(
                "{day} {} {year} à {hour:02}:{minute:02} UTC",
                MONTHS_FR[month]
            )
        }
    }
}

/// French puts a no-break space before a colon.
const FR_COLON: &str = "\u{a0}:";

fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn credentials(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let login = p.required(params::LOGIN)?;
    let organization = p.required(params::ORGANIZATION)?;
    let password = p.optional(params::TEMPORARY_PASSWORD);
    let code = p.optional(params::BOOKING_CODE);
    let mut body = String::new();
    let subject = match lang {
        Language::En => {
            body.push_str(&format!(
                "Hello,\n\n\
                 An account has been created for {name} at {organization}. \
                 Here are its sign-in details:\n\n\
                 Login: {login}\n"
            ));
            if let Some(password) = password {
                body.push_str(&format!("Temporary password: {password}\n"));
            }
            if let Some(code) = code {
                body.push_str(&format!("Booking code: {code}\n"));
            }
            body.push('\n');
            if password.is_some() {
                body.push_str(
                    "A new password must be chosen at the first sign-in, in the web or mobile app.\n\n",
                );
            }
            if code.is_some() {
                body.push_str(
                    "The booking code is personal: it is used to book rooms on the tablets at \
                     the meeting-room doors and to sign in to the web and mobile apps. \
                     Do not share it.\n\n",
                );
            }
            body.push_str(
                "These details are sent only once and cannot be displayed again: keep them \
                 somewhere safe, then delete this message. If you were not expecting it, \
                 please contact your administrator.\n\n",
            );
            format!("Sign-in details for {name} – {organization}")
        }
        Language::Fr => {
            body.push_str(&format!(
                "Bonjour,\n\n\
                 Un compte a été créé pour {name} chez {organization}. \
                 Voici ses identifiants de connexion{FR_COLON}\n\n\
                 Identifiant{FR_COLON} {login}\n"
            ));
            if let Some(password) = password {
                body.push_str(&format!("Mot de passe temporaire{FR_COLON} {password}\n"));
            }
            if let Some(code) = code {
                body.push_str(&format!("Code de réservation{FR_COLON} {code}\n"));
            }
            body.push('\n');
            if password.is_some() {
                body.push_str(
                    "Un nouveau mot de passe devra être choisi lors de la première connexion, \
                     sur l'application web ou mobile.\n\n",
                );
            }
            if code.is_some() {
                body.push_str(&format!(
                    "Le code de réservation est personnel{FR_COLON} il permet de réserver des \
                     créneaux sur les tablettes des salles de réunion et de s'identifier sur \
                     les applications web et mobile. Ne le communiquez à personne.\n\n"
                ));
            }
            body.push_str(&format!(
                "Ces informations ne sont envoyées qu'une seule fois et ne pourront plus être \
                 affichées{FR_COLON} conservez-les en lieu sûr, puis supprimez ce message. \
                 Si vous n'attendiez pas ce message, contactez votre administrateur.\n\n"
            ));
            format!("Identifiants de connexion de {name} – {organization}")
        }
    };
    body.push_str(SIGNATURE);
    body.push('\n');
    Ok((subject, body))
}

fn invitation(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let inviter = p.required(params::INVITER)?;
    let organization = p.required(params::ORGANIZATION)?;
    let link = p.required(params::LINK)?;
    let expires = p.instant(params::EXPIRES_AT, lang)?;
    Ok(match lang {
        Language::En => (
            format!("{inviter} invites you to join {organization} on Concierge"),
            format!(
                "Hello {name},\n\n\
                 {inviter} invites you to join {organization} on Concierge, to book meeting \
                 rooms at the sites you have access to.\n\n\
                 To accept the invitation, choose your password by following this link:\n\n\
                 {link}\n\n\
                 This link can be used only once and expires on {expires}. If it has \
                 expired, ask {inviter} to send you a new invitation.\n\n\
                 If you were not expecting this invitation, you can ignore this message: \
                 nothing happens without you.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            format!("{inviter} vous invite à rejoindre {organization} sur Concierge"),
            format!(
                "Bonjour {name},\n\n\
                 {inviter} vous invite à rejoindre {organization} sur Concierge, pour réserver \
                 les salles de réunion des établissements auxquels vous avez accès.\n\n\
                 Pour accepter l'invitation, choisissez votre mot de passe en suivant ce \
                 lien{FR_COLON}\n\n\
                 {link}\n\n\
                 Ce lien ne peut servir qu'une seule fois et expire le {expires}. S'il a \
                 expiré, demandez à {inviter} de vous envoyer une nouvelle invitation.\n\n\
                 Si vous n'attendiez pas cette invitation, ignorez simplement ce \
                 message{FR_COLON} rien ne se fera sans vous.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn password_reset(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let link = p.required(params::LINK)?;
    let expires = p.instant(params::EXPIRES_AT, lang)?;
    Ok(match lang {
        Language::En => (
            "Reset your Concierge password".to_owned(),
            format!(
                "Hello {name},\n\n\
                 We received a request to reset the password of your Concierge account. \
                 To choose a new password, follow this link:\n\n\
                 {link}\n\n\
                 This link can be used only once and expires on {expires}.\n\n\
                 If you did not ask for this, you can ignore this message: your password \
                 will not change.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            "Réinitialisation de votre mot de passe Concierge".to_owned(),
            format!(
                "Bonjour {name},\n\n\
                 Nous avons reçu une demande de réinitialisation du mot de passe de votre \
                 compte Concierge. Pour choisir un nouveau mot de passe, suivez ce \
                 lien{FR_COLON}\n\n\
                 {link}\n\n\
                 Ce lien ne peut servir qu'une seule fois et expire le {expires}.\n\n\
                 Si vous n'êtes pas à l'origine de cette demande, ignorez ce \
                 message{FR_COLON} votre mot de passe reste inchangé.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn password_changed(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let at = p.instant(params::AT, lang)?;
    Ok(match lang {
        Language::En => (
            "Your Concierge password was changed".to_owned(),
            format!(
                "Hello {name},\n\n\
                 The password of your Concierge account was changed on {at}. For your \
                 security, all sessions of your account were signed out.\n\n\
                 If you did not make this change, reset your password right away or contact \
                 your administrator.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            "Votre mot de passe Concierge a été modifié".to_owned(),
            format!(
                "Bonjour {name},\n\n\
                 Le mot de passe de votre compte Concierge a été modifié le {at}. Par \
                 sécurité, toutes les sessions de votre compte ont été fermées.\n\n\
                 Si vous n'êtes pas à l'origine de ce changement, réinitialisez votre mot de \
                 passe sans attendre ou contactez votre administrateur.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn second_factor_reset(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let at = p.instant(params::AT, lang)?;
    Ok(match lang {
        Language::En => (
            "Your Concierge second factor was removed".to_owned(),
            format!(
                "Hello {name},\n\n\
                 An administrator removed the second factor (authenticator app) of your \
                 Concierge account on {at}. Your recovery codes no longer work. You can enrol \
                 a new authenticator after signing in.\n\n\
                 If you did not ask for this, contact your administrator right away.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            "Le second facteur de votre compte Concierge a été supprimé".to_owned(),
            format!(
                "Bonjour {name},\n\n\
                 Un administrateur a supprimé le second facteur (application \
                 d'authentification) de votre compte Concierge le {at}. Vos codes de secours \
                 ne fonctionnent plus. Vous pourrez enregistrer une nouvelle application \
                 après vous être connecté.\n\n\
                 Si vous n'en avez pas fait la demande, contactez sans attendre votre \
                 administrateur.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn sso_welcome(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let organization = p.required(params::ORGANIZATION)?;
    let login = p.required(params::LOGIN)?;
    let code = p.required(params::BOOKING_CODE)?;
    Ok(match lang {
        Language::En => (
            format!("Welcome to Concierge at {}", one_line(organization)),
            format!(
                "Hello {name},\n\n\
                 Your Concierge account at {organization} was created when you first signed in \
                 with your company account ({login}). Keep signing in that way: there is no \
                 Concierge password to remember.\n\n\
                 Your personal booking code, for the tablets at the meeting rooms: {code}\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            format!("Bienvenue sur Concierge chez {}", one_line(organization)),
            format!(
                "Bonjour {name},\n\n\
                 Votre compte Concierge chez {organization} a été créé lors de votre première \
                 connexion avec votre compte d'entreprise ({login}). Continuez à vous connecter \
                 ainsi : aucun mot de passe Concierge à retenir.\n\n\
                 Votre code de réservation personnel, pour les tablettes des salles : {code}\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn sso_linked(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let organization = p.required(params::ORGANIZATION)?;
    Ok(match lang {
        Language::En => (
            "Your Concierge account now signs in with your company account".to_owned(),
            format!(
                "Hello {name},\n\n\
                 You just signed in to Concierge with the company account of {organization}; \
                 it is now linked to your Concierge account and signs you in from now on.\n\n\
                 If this was not you, contact your administrator right away.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            "Votre compte Concierge se connecte désormais avec votre compte d'entreprise"
                .to_owned(),
            format!(
                "Bonjour {name},\n\n\
                 Vous venez de vous connecter à Concierge avec le compte d'entreprise de \
                 {organization} ; il est désormais lié à votre compte Concierge et vous \
                 connecte dorénavant.\n\n\
                 Si ce n'était pas vous, contactez sans attendre votre administrateur.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

/// A booking made, changed or cancelled for the person; the meeting itself is attached.
fn booking_notice(
    kind: EmailKind,
    p: &Params<'_>,
    lang: Language,
) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let room = p.required(params::ROOM)?;
    let start = p.instant(params::START, lang)?;
    let end = p.instant(params::END, lang)?;
    p.required(params::BOOKING)?;
    let what = p.optional(params::TITLE).unwrap_or(room);
    let (en, fr) = match kind {
        EmailKind::BookingChanged => ("was changed", "a été modifiée"),
        EmailKind::BookingCancelled => ("was cancelled", "a été annulée"),
        _ => ("is confirmed", "est confirmée"),
    };
    Ok(match lang {
        Language::En => (
            format!("Your booking of {room} {en}: {}", one_line(what)),
            format!(
                "Hello {name},\n\n\
                 Your booking of {room} {en}: {what}, from {start} to {end}.\n\n\
                 The meeting is attached for your calendar.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            format!("Votre réservation de {room} {fr} : {}", one_line(what)),
            format!(
                "Bonjour {name},\n\n\
                 Votre réservation de {room} {fr} : {what}, du {start} au {end}.\n\n\
                 La réunion est jointe pour votre agenda.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

fn booking_released(p: &Params<'_>, lang: Language) -> Result<(String, String), MailError> {
    let name = p.required(params::NAME)?;
    let room = p.required(params::ROOM)?;
    let start = p.instant(params::START, lang)?;
    Ok(match lang {
        Language::En => (
            format!("Your booking of {room} was released"),
            format!(
                "Hello {name},\n\n\
                 Nobody checked in to your booking of {room} starting {start}, so it was \
                 released: the room is free for others again.\n\n\
                 If you still need a room, book again from the app or at the door.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
        Language::Fr => (
            format!("Votre réservation de {room} a été libérée"),
            format!(
                "Bonjour {name},\n\n\
                 Personne ne s'est présenté pour votre réservation de {room} commençant le \
                 {start} : elle a été libérée et la salle est de nouveau disponible.\n\n\
                 Si vous avez toujours besoin d'une salle, réservez de nouveau depuis \
                 l'application ou à la porte.\n\n\
                 {SIGNATURE}\n"
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> EmailParams {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn dates_read_naturally() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:05:00+01:00")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(human_date(at, Language::En), "March 1, 2026 at 08:05 UTC");
        assert_eq!(human_date(at, Language::Fr), "1er mars 2026 à 08:05 UTC");
    }

    #[test]
    fn a_missing_or_empty_parameter_is_named() {
        let params = map(&[("name", "Ana"), ("login", " "), ("organization", "Acme")]);
        assert_eq!(
            render(EmailKind::Credentials, Language::En, &params),
            Err(MailError::MissingParam("login"))
        );
        let params = map(&[("name", "Ana"), ("at", "yesterday")]);
        assert_eq!(
            render(EmailKind::PasswordChanged, Language::Fr, &params),
            Err(MailError::InvalidParam("at"))
        );
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let params = map(&[
            ("name", "Ana\r\nBcc: x@example.com"),
            ("login", "ana"),
            ("organization", "Acme"),
        ]);
        let email = render(EmailKind::Credentials, Language::En, &params).expect("render");
        assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
    }
}
