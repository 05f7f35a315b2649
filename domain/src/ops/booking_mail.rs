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
