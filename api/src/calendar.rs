//! `GET /calendar/<token>.ics`: a calendar feed as RFC 5545, written with the `icalendar`
//! crate. What the feed holds is the domain's (`concierge_domain::ops::calendar_feeds`): here
//! each single booking becomes a `VEVENT`, and each series one `VEVENT` with its `RRULE`, in
//! the site's time zone (`DTSTART;TZID=…`, so a weekly 09:00 meeting stays at 09:00 across a
//! DST change) and an `EXDATE` for every occurrence it no longer has.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use concierge_domain::model::{Booking, BookingSeries, Room};
use concierge_domain::{Calendar, CalendarEntry, DomainError};
use icalendar::{CalendarDateTime, Component, Event, EventLike, EventStatus, Property};

use crate::app::AppState;

/// `UID`s are unique within this domain (RFC 5545 §3.8.4.7 suggests `id@host`).
const UID_DOMAIN: &str = "concierge";

pub async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    match state.domain.calendar(token).await {
        Ok(calendar) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                // The address is the secret: no shared cache keeps what it answers.
                (header::CACHE_CONTROL, "private, no-store"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            write(&calendar),
        )
            .into_response(),
        Err(DomainError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, "no such calendar feed").into_response()
        }
        Err(error) => {
            tracing::error!(%error, "calendar feed failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The feed as iCalendar text.
pub fn write(calendar: &Calendar) -> String {
    let mut ics = icalendar::Calendar::new();
    ics.name(&calendar.name);
    for entry in &calendar.entries {
        let event = match entry {
            CalendarEntry::Single(booking) => single(calendar, booking),
            CalendarEntry::Series { series, removed } => recurring(calendar, series, removed),
        };
        ics.push(event);
    }
    ics.done().to_string()
}

fn room_of(calendar: &Calendar, id: concierge_domain::ids::RoomId) -> Option<&Room> {
    calendar.rooms.iter().find(|r| r.id == id)
}

/// What the event is called: its title in the holder's own feed; in a room's feed, where the
/// meetings are other people's, only that the room is taken.
fn summary(calendar: &Calendar, title: Option<&str>, room: Option<&Room>) -> String {
    match (calendar.private_titles, title) {
        (false, Some(title)) if !title.trim().is_empty() => title.to_owned(),
        (false, _) => room.map_or_else(|| "Meeting".to_owned(), |r| r.name.to_string()),
        (true, _) => "Booked".to_owned(),
    }
}

fn single(calendar: &Calendar, booking: &Booking) -> Event {
    let room = room_of(calendar, booking.room_id);
    let mut event = Event::new();
    event
        .uid(&format!("{}@{UID_DOMAIN}", booking.id))
        .summary(&summary(calendar, booking.title.as_deref(), room))
        .starts(booking.start)
        .ends(booking.end)
        .status(EventStatus::Confirmed);
    if let Some(room) = room {
        event.location(room.name.as_str());
    }
    event.done()
}

fn recurring(calendar: &Calendar, series: &BookingSeries, removed: &[DateTime<Utc>]) -> Event {
    let room = room_of(calendar, series.room_id);
    let zone = series.time_zone;
    let mut event = Event::new();
    event
        .uid(&format!("{}@{UID_DOMAIN}", series.id))
        .summary(&summary(calendar, series.title.as_deref(), room))
        .starts(CalendarDateTime::WithTimezone {
            date_time: series.local_start,
            tzid: zone.name().to_owned(),
        })
        .add_property("DURATION", format!("PT{}M", series.duration_minutes))
        .add_property("RRULE", series.rule.to_rrule(zone))
        .status(EventStatus::Confirmed);
    for start in removed {
        let value = start
            .with_timezone(&zone.tz())
            .naive_local()
            .format("%Y%m%dT%H%M%S")
            .to_string();
        event.append_multi_property(
            Property::new("EXDATE", value)
                .add_parameter("TZID", zone.name())
                .done(),
        );
    }
    if let Some(room) = room {
        event.location(room.name.as_str());
    }
    event.done()
}

/// The meeting an e-mail about a booking carries (RFC 5546 iTIP): written once the sender and
/// the recipient are known (`ORGANIZER`, `ATTENDEE`). A single booking is one `VEVENT` in UTC;
/// a series is written in its site's time zone, whole (its `RRULE` and `EXDATE`s) or as the
/// occurrences concerned (`RECURRENCE-ID`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// `REQUEST` (made or changed) or `CANCEL`.
    pub method: &'static str,
    pub uid: String,
    pub sequence: i64,
    pub summary: String,
    pub location: String,
    /// The site's time zone of a series; `None` for a single booking.
    pub time_zone: Option<concierge_domain::values::TimeZone>,
    pub parts: Vec<InvitationPart>,
}

/// One `VEVENT` of an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationPart {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub rrule: Option<String>,
    pub exdates: Vec<DateTime<Utc>>,
    /// The occurrence of a series this part is about (the start the rule gave it).
    pub recurrence_id: Option<DateTime<Utc>>,
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Invitation {
    /// The invitation of a booking e-mail from its parameters; `None` for other messages.
    pub fn of(
        kind: concierge_domain::EmailKind,
        params: &concierge_domain::EmailParams,
    ) -> Option<Invitation> {
        use concierge_domain::EmailKind;
        use concierge_domain::ops::params as p;
        let method = match kind {
            EmailKind::BookingConfirmed | EmailKind::BookingChanged => "REQUEST",
            EmailKind::BookingCancelled | EmailKind::BookingReleased => "CANCEL",
            _ => return None,
        };
        let get = |name: &str| params.get(name).map(String::as_str);
        let (start, end) = (instant(get(p::START)?)?, instant(get(p::END)?)?);
        let parts = match get(p::INSTANCES).filter(|l| !l.is_empty()) {
            Some(list) => list
                .split(';')
                .filter_map(|entry| {
                    let mut fields = entry.split(',');
                    let original = instant(fields.next()?)?;
                    let (now_start, now_end) = match (fields.next(), fields.next()) {
                        (Some(s), Some(e)) => (instant(s)?, instant(e)?),
                        _ => (original, original + (end - start)),
                    };
                    Some(InvitationPart {
                        start: now_start,
                        end: now_end,
                        rrule: None,
                        exdates: Vec::new(),
                        recurrence_id: Some(original),
                    })
                })
                .collect(),
            None => vec![InvitationPart {
                start,
                end,
                rrule: get(p::RRULE).map(str::to_owned),
                exdates: get(p::EXDATES)
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(instant)
                    .collect(),
                recurrence_id: None,
            }],
        };
        let location = get(p::ROOM)?.to_owned();
        Some(Invitation {
            method,
            uid: format!("{}@{UID_DOMAIN}", get(p::BOOKING)?),
            sequence: get(p::SEQUENCE).and_then(|s| s.parse().ok()).unwrap_or(0),
            summary: get(p::TITLE)
                .filter(|t| !t.trim().is_empty())
                .map_or_else(|| location.clone(), str::to_owned),
            location,
            time_zone: get(p::TIME_ZONE)
                .and_then(|z| concierge_domain::values::TimeZone::parse("time_zone", z).ok()),
            parts,
        })
    }

    /// `at` as the invitation writes it: local time of the series' zone, else UTC.
    fn when(&self, at: DateTime<Utc>) -> CalendarDateTime {
        match self.time_zone {
            Some(zone) => CalendarDateTime::WithTimezone {
                date_time: at.with_timezone(&zone.tz()).naive_local(),
                tzid: zone.name().to_owned(),
            },
            None => CalendarDateTime::Utc(at),
        }
    }

    /// A date-time property (`EXDATE`, `RECURRENCE-ID`) in the invitation's time.
    fn moment(&self, name: &str, at: DateTime<Utc>) -> Property {
        match self.time_zone {
            Some(zone) => Property::new(
                name,
                at.with_timezone(&zone.tz())
                    .naive_local()
                    .format("%Y%m%dT%H%M%S")
                    .to_string(),
            )
            .add_parameter("TZID", zone.name())
            .done(),
            None => Property::new(name, at.format("%Y%m%dT%H%M%SZ").to_string()),
        }
    }

    /// The `.ics` for `attendee`, sent by `organizer`.
    pub fn to_ics(&self, organizer: &str, attendee: &str) -> String {
        let mut ics = icalendar::Calendar::new();
        ics.append_property(Property::new("METHOD", self.method));
        for part in &self.parts {
            let mut event = Event::new();
            event
                .uid(&self.uid)
                .summary(&self.summary)
                .location(&self.location)
                .starts(self.when(part.start))
                .ends(self.when(part.end))
                .add_property("SEQUENCE", self.sequence.to_string())
                .append_property(
                    Property::new("ORGANIZER", format!("mailto:{organizer}"))
                        .add_parameter("CN", "Concierge")
                        .done(),
                )
                .append_property(
                    Property::new("ATTENDEE", format!("mailto:{attendee}"))
                        .add_parameter("ROLE", "REQ-PARTICIPANT")
                        .add_parameter("PARTSTAT", "ACCEPTED")
                        .done(),
                )
                .status(if self.method == "CANCEL" {
                    EventStatus::Cancelled
                } else {
                    EventStatus::Confirmed
                });
            if let Some(rrule) = &part.rrule {
                event.add_property("RRULE", rrule);
            }
            for exdate in &part.exdates {
                event.append_multi_property(self.moment("EXDATE", *exdate));
            }
            if let Some(original) = part.recurrence_id {
                event.append_property(self.moment("RECURRENCE-ID", original));
            }
            ics.push(event.done());
        }
        ics.done().to_string()
    }
}
