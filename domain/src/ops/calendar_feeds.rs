//! Calendar feeds: secret iCalendar addresses of a person's bookings or of a room's, for the
//! calendar applications people already use. A feed token is created, shown once, stored as a
//! keyed hash and revoked like a tablet's; a feed shows what its owner may see, for as long as
//! they may see it (deactivated, or the room out of their reach: the feed answers nothing).
//!
//! The domain decides what a feed holds ([`CalendarEntry`]): single bookings, and each series as
//! its rule with the dates it no longer has (skipped, cancelled, released or moved); the API
//! writes it as RFC 5545.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{BookingId, BookingSeriesId, CalendarFeedId, RoomId};
use crate::model::*;
use crate::ops::{Domain, find_by_hash};
use crate::recurrence::MAX_OCCURRENCES;
use crate::secrets::random_token;

const FEED_PURPOSE: &str = "calendar-feed";
/// Feed tokens start with this, so that a leaked one is recognised.
pub const FEED_TOKEN_PREFIX: &str = "cal_";
/// How far back and ahead a feed reaches.
const FEED_PAST_DAYS: i64 = 30;
const FEED_AHEAD_DAYS: i64 = 366;
/// At most this many (confirmed) bookings in one feed.
const FEED_MAX_BOOKINGS: usize = 2000;

/// What one feed holds.
#[derive(Debug, Clone)]
pub enum CalendarEntry {
    /// A booking on its own (or an occurrence moved off its series' rule).
    Single(Booking),
    /// A series: its rule, and the starts of every occurrence of the rule it no longer has
    /// (`EXDATE`), in or out of the feed's window: the rule puts them in the calendar.
    Series {
        series: BookingSeries,
        removed: Vec<DateTime<Utc>>,
    },
}

/// A feed, ready to be written.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    pub entries: Vec<CalendarEntry>,
    /// The rooms the entries name.
    pub rooms: Vec<Room>,
    /// Whether the holder's bookings are shown with their titles (their own feed) or only as
    /// busy (a room's feed: other people's meetings).
    pub private_titles: bool,
}

impl Domain {
    /// Creates a feed of the caller's own bookings, or of a room they may see; returns it and
    /// its token, shown this once.
    pub async fn create_calendar_feed(
        &self,
        actor: &Actor,
        room_id: Option<RoomId>,
    ) -> DomainResult<(CalendarFeed, String)> {
        actor.require_person()?;
        if let Some(room) = room_id {
            self.room(actor, room).await?;
        }
        let token = format!("{FEED_TOKEN_PREFIX}{}", random_token());
        let feed = CalendarFeed {
            id: CalendarFeedId::new(),
            organization_id: actor.user.organization_id,
            user_id: actor.user.id,
            room_id,
            token_hash: self.secrets.token_hash(FEED_PURPOSE, &token),
            created_at: self.now(),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_calendar_feed(&feed).await?;
        let target = Some(("CalendarFeed", feed.id.to_string()));
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(feed.organization_id),
            "calendar_feed.created",
            target,
        ))
        .await?;
        tx.commit().await?;
        Ok((feed, token))
    }

    /// The caller's feeds (never their tokens), oldest first, revoked included.
    pub async fn calendar_feeds(&self, actor: &Actor) -> DomainResult<Vec<CalendarFeed>> {
        actor.require_person()?;
        Ok(self.store.calendar_feeds_of(actor.user.id).await?)
    }

    /// Revokes one of the caller's feeds: the calendar application's next poll gets nothing.
    /// Revoking twice is fine; someone else's feed is NOT_FOUND.
    pub async fn revoke_calendar_feed(
        &self,
        actor: &Actor,
        id: CalendarFeedId,
    ) -> DomainResult<CalendarFeed> {
        actor.require_person()?;
        self.retrying("calendarFeedId", || async {
            let not_found = DomainError::NotFound("calendar feed");
            let mut tx = self.store.begin().await?;
            let mut feed = tx
                .lock_calendar_feed(id)
                .await?
                .filter(|f| f.user_id == actor.user.id)
                .ok_or(not_found)?;
            if feed.revoked_at.is_none() {
                feed.revoked_at = Some(self.now());
                tx.update_calendar_feed(&feed).await?;
                let target = Some(("CalendarFeed", feed.id.to_string()));
                tx.insert_audit_event(&self.audit(
                    Some(actor),
                    Some(feed.organization_id),
                    "calendar_feed.revoked",
                    target,
                ))
                .await?;
                tx.commit().await?;
            }
            Ok(feed.into_inner())
        })
        .await
    }

    /// What the feed of `token` holds now. NOT_FOUND for an unknown or revoked token, an owner
    /// no longer active, or a room they may no longer see (the same answer for each).
    pub async fn calendar(&self, token: &str) -> DomainResult<Calendar> {
        let gone = || DomainError::NotFound("calendar feed");
        if !token.starts_with(FEED_TOKEN_PREFIX) {
            return Err(gone());
        }
        let store = &*self.store;
        let (feed, _) = find_by_hash(
            self.secrets.token_hashes(FEED_PURPOSE, token),
            |hash| async move { store.calendar_feed_by_hash(hash.expose()).await },
        )
        .await?
        .ok_or_else(gone)?;
        if feed.revoked_at.is_some() {
            return Err(gone());
        }
        let feed = self.rehash_calendar_feed_token(feed, token).await?;
        let owner = store
            .user(feed.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(gone)?;
        let org = self.organization_of(store, owner.organization_id).await?;
        let profile = store.profile(owner.profile_id).await?.ok_or_else(gone)?;
        let name = format!("{} – Concierge", owner.display_name());
        let actor = Actor::new(owner, org, profile.permissions, None, None);
        let now = self.now();
        let mut query = BookingQuery {
            organization_ids: vec![actor.user.organization_id],
            room_id: None,
            site_ids: None,
            user_id: Some(actor.user.id),
            from: Some(now - Duration::days(FEED_PAST_DAYS)),
            to: Some(now + Duration::days(FEED_AHEAD_DAYS)),
            // Only what stands: cancelled and released bookings would use up the cap.
            status: Some(BookingStatus::Confirmed),
            after: None,
            first: FEED_MAX_BOOKINGS,
            count_total: false,
        };
        let (name, private_titles) = match feed.room_id {
            Some(room_id) => {
                let room = self.room(&actor, room_id).await.map_err(|_| gone())?;
                query.organization_ids = vec![room.organization_id];
                query.room_id = Some(room_id);
                query.user_id = None;
                (format!("{} – Concierge", room.name), true)
            }
            None => (name, false),
        };
        let bookings = store.bookings(&query).await?.items;
        let series_ids: Vec<BookingSeriesId> = {
            let mut ids: Vec<_> = bookings.iter().filter_map(|b| b.series_id).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        // Each series' own occurrences, whatever the feed's window and cap: which of the
        // rule's dates still stand is theirs to say (two reads, whatever the number of series).
        let (series, occurrences) = if series_ids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (
                store.booking_series_by_ids(&series_ids).await?,
                store.series_bookings_of(&series_ids).await?,
            )
        };
        let mut room_ids: Vec<RoomId> = bookings.iter().map(|b| b.room_id).collect();
        room_ids.sort();
        room_ids.dedup();
        let rooms = store.rooms_by_ids(&room_ids).await?;
        Ok(Calendar {
            name,
            entries: calendar_entries(bookings, series, &occurrences),
            rooms,
            private_titles,
        })
    }

    /// A feed token still stored under the previous pepper is stored under the current one
    /// from its first use on, so the calendar keeps working once the previous pepper is
    /// dropped. The row is locked and changed only if its hash is still the one found (a
    /// revocation committed meanwhile stays).
    async fn rehash_calendar_feed_token(
        &self,
        found: CalendarFeed,
        token: &str,
    ) -> DomainResult<CalendarFeed> {
        let current = self.secrets.token_hash(FEED_PURPOSE, token);
        if found.token_hash == current {
            return Ok(found);
        }
        let mut tx = self.store.begin().await?;
        let Some(mut locked) = tx.lock_calendar_feed(found.id).await? else {
            return Ok(found);
        };
        if locked.token_hash != found.token_hash {
            return Ok(found);
        }
        locked.token_hash = current;
        tx.update_calendar_feed(&locked).await?;
        tx.commit().await?;
        Ok(locked.into_inner())
    }
}

/// Confirmed bookings as calendar entries. A series' rule date with a confirmed occurrence
/// of the series standing where the rule puts it (its room, its start and length) is the
/// rule's; every rule date without one is removed (`EXDATE`), wherever it falls; any other
/// booking (one on its own, or an occurrence moved off its rule) stands on its own.
/// `occurrences` are the series' own, of every status.
fn calendar_entries(
    bookings: Vec<Booking>,
    series: Vec<BookingSeries>,
    occurrences: &[Booking],
) -> Vec<CalendarEntry> {
    // The confirmed occurrences by series, room, start and end: one lookup per rule date.
    type Slot = (BookingSeriesId, RoomId, DateTime<Utc>, DateTime<Utc>);
    let standing: HashMap<Slot, BookingId> = occurrences
        .iter()
        .filter(|b| b.status == BookingStatus::Confirmed)
        .filter_map(|b| Some(((b.series_id?, b.room_id, b.start, b.end), b.id)))
        .collect();
    let mut entries = Vec::new();
    let mut covered: HashSet<BookingId> = HashSet::new();
    for one in series {
        let Ok(starts) = one
            .rule
            .starts(one.local_start, one.time_zone, DateTime::<Utc>::MAX_UTC)
        else {
            continue;
        };
        let duration = Duration::minutes(i64::from(one.duration_minutes));
        let mut removed = Vec::new();
        for start in starts.into_iter().take(MAX_OCCURRENCES) {
            match standing.get(&(one.id, one.room_id, start, start + duration)) {
                Some(id) => {
                    covered.insert(*id);
                }
                None => removed.push(start),
            }
        }
        entries.push(CalendarEntry::Series {
            series: one,
            removed,
        });
    }
    entries.extend(
        bookings
            .into_iter()
            .filter(|b| b.status == BookingStatus::Confirmed && !covered.contains(&b.id))
            .map(CalendarEntry::Single),
    );
    entries
}
