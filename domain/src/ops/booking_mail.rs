//! The e-mails a booking's holder gets when it is made, changed or cancelled for them. Each
//! carries what the calendar needs (the booking's id as `UID`, a `SEQUENCE` that grows with
//! every change): the API attaches the meeting as iCalendar (`METHOD:REQUEST` or `CANCEL`), so
//! Outlook and Google put it in the calendar. A holder without e-mail gets nothing.

use crate::error::DomainResult;
use crate::model::*;
use crate::ops::Domain;
use crate::ops::mail::{Mail, mail_params, params};
use crate::storage::Writes;

impl Domain {
    /// Queues `kind` about `booking` (as just written) for its holder, in `tx`.
    pub(crate) async fn enqueue_booking_mail(
        &self,
        tx: &mut dyn Writes,
        kind: EmailKind,
        booking: &Booking,
        holder: &User,
        room: &Room,
    ) -> DomainResult<()> {
        let Some(to) = holder.email.clone() else {
            return Ok(());
        };
        // Seconds since the booking was made: 0 for the invitation, larger for every change.
        let sequence = (self.now() - booking.created_at).num_seconds().max(0);
        let mut params = mail_params([
            (params::NAME, holder.display_name()),
            (params::ROOM, room.name.to_string()),
            (params::START, booking.start.to_rfc3339()),
            (params::END, booking.end.to_rfc3339()),
            (params::BOOKING, booking.id.to_string()),
            (params::SEQUENCE, sequence.to_string()),
        ]);
        if let Some(title) = &booking.title {
            params.insert(params::TITLE.to_owned(), title.clone());
        }
        let mail = Mail {
            organization: Some(booking.organization_id),
            to,
            language: holder.language,
            kind,
            params,
        };
        self.enqueue(tx, mail).await
    }
}

/// An occurrence of a series in a message: the start its series' rule gave it (its
/// `RECURRENCE-ID`), and where it is now (`None`: cancelled).
pub(crate) struct SeriesInstance {
    pub original: chrono::DateTime<chrono::Utc>,
    pub now: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

impl Domain {
    /// Queues `kind` about a series for its holder, in `tx`: the whole series (its rule, its
    /// skipped dates) when `instances` is empty, else only those occurrences. `shown` is the
    /// occurrence the text names.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn enqueue_series_mail(
        &self,
        tx: &mut dyn Writes,
        kind: EmailKind,
        series: &BookingSeries,
        shown: &Booking,
        holder: &User,
        room: &Room,
        instances: &[SeriesInstance],
    ) -> DomainResult<()> {
        let Some(to) = holder.email.clone() else {
            return Ok(());
        };
        let sequence = (self.now() - series.created_at).num_seconds().max(0);
        let mut params = mail_params([
            (params::NAME, holder.display_name()),
            (params::ROOM, room.name.to_string()),
            (params::START, shown.start.to_rfc3339()),
            (params::END, shown.end.to_rfc3339()),
            (params::BOOKING, series.id.to_string()),
            (params::SEQUENCE, sequence.to_string()),
            (params::TIME_ZONE, series.time_zone.name().to_owned()),
        ]);
        if let Some(title) = &series.title {
            params.insert(params::TITLE.to_owned(), title.clone());
        }
        if instances.is_empty() {
            let skipped: Vec<String> = series.skipped.iter().map(|s| s.to_rfc3339()).collect();
            params.insert(
                params::RRULE.to_owned(),
                series.rule.to_rrule(series.time_zone),
            );
            params.insert(params::EXDATES.to_owned(), skipped.join(","));
        } else {
            let listed: Vec<String> = instances
                .iter()
                .map(|i| match i.now {
                    Some((start, end)) => format!(
                        "{},{},{}",
                        i.original.to_rfc3339(),
                        start.to_rfc3339(),
                        end.to_rfc3339()
                    ),
                    None => i.original.to_rfc3339(),
                })
                .collect();
            params.insert(params::INSTANCES.to_owned(), listed.join(";"));
        }
        let mail = Mail {
            organization: Some(series.organization_id),
            to,
            language: holder.language,
            kind,
            params,
        };
        self.enqueue(tx, mail).await
    }
}
