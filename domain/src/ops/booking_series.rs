//! Recurring bookings: a series books a room on every date of a rule (see `crate::recurrence`)
//! in one transaction. Each occurrence is an ordinary booking (same policy, same no-overlap
//! rule, same permissions, its own event); the series links them.
//!
//! Changing or cancelling works on one occurrence, this one and the following, or all of them
//! (`SeriesScope`). The wider scopes leave alone the occurrences that have started (history
//! stays as it was) and those no longer confirmed. A change moves each occurrence in scope by
//! the same shift of local time (and gives it the same duration) as the named one: the series
//! record keeps the rule it was made with (it describes how the occurrences were made, not a
//! plan that later edits rewrite); each occurrence carries its own times.

use chrono::{DateTime, Duration, Utc};

use crate::access::Actor;
use crate::booking_rules::check_policy;
use crate::error::{DomainError, DomainResult};
use crate::ids::{BookingId, BookingSeriesId, RoomId, UserId};
use crate::model::*;
use crate::ops::Domain;
use crate::ops::booking_mail::SeriesInstance;
use crate::ops::bookings::{TITLE_MAX, conflict};
use crate::recurrence::{RecurrenceRule, RuleInput, local_instant};
use crate::storage::{Locked, StorageError, UniqueKey};
use crate::values::{TimeZone, optional_text};

#[derive(Debug, Clone)]
pub struct NewBookingSeries {
    pub room_id: RoomId,
    /// The holder of every occurrence; the actor when omitted.
    pub user_id: Option<UserId>,
    pub title: Option<String>,
    /// The first occurrence.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub rule: RuleInput,
    pub on_conflict: OnConflict,
}

/// What creating a series did.
#[derive(Debug, Clone)]
pub enum SeriesOutcome {
    /// The series and the occurrences booked (`series.skipped`: those the room was taken for).
    Booked {
        series: Box<BookingSeries>,
        bookings: Vec<Booking>,
    },
    /// Nothing was booked: these occurrences' slots are taken (`onConflict: FAIL`, or every
    /// occurrence conflicts).
    Conflicting(Vec<DateTime<Utc>>),
}

/// A change to the occurrences of a series in scope, given for the occurrence named.
#[derive(Debug, Clone, Default)]
pub struct SeriesChanges {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub title: Option<String>,
}

impl Domain {
    /// Books a room on every date of a rule, for the actor or (with `bookings` ≥ OTHERS)
    /// someone else: every occurrence under the rules of `createBooking`, all in one
    /// transaction.
    pub async fn create_booking_series(
        &self,
        actor: &Actor,
        input: NewBookingSeries,
    ) -> DomainResult<SeriesOutcome> {
        if actor.device.is_some() {
            return Err(DomainError::forbidden("a tablet cannot book a series"));
        }
        let rule = RecurrenceRule::parse(input.rule)?;
        let title = optional_text("title", input.title.as_deref(), TITLE_MAX)?;
        let RoomForBooking { room, site, .. } = self
            .room_for_booking(actor, input.room_id, input.start, input.end)
            .await?;
        let (holder, source) = self.booking_holder(actor, input.user_id).await?;
        self.check_holder(actor, &room, &holder).await?;
        let now = self.now();
        let zone = site.time_zone;
        check_policy(&room, zone, input.start, input.end, now)?;
        let duration = input.end - input.start;
        let local_start = input.start.with_timezone(&zone.tz()).naive_local();
        let latest = now + Duration::days(i64::from(room.policy.horizon_days));
        let starts = rule.starts(local_start, zone, latest)?;
        for start in &starts {
            check_policy(&room, zone, *start, *start + duration, now)
                .map_err(|error| on_occurrence(error, *start))?;
        }
        let plan = SeriesPlan {
            series: BookingSeries {
                id: BookingSeriesId::new(),
                organization_id: room.organization_id,
                room_id: room.id,
                site_id: room.site_id,
                user_id: holder.id,
                created_by: actor.user.id,
                title,
                rule,
                local_start,
                duration_minutes: i32::try_from(duration.num_minutes())
                    .map_err(|_| DomainError::validation("end", "too long"))?,
                time_zone: zone,
                skipped: Vec::new(),
                created_at: now,
            },
            starts,
            duration,
            source,
            on_conflict: input.on_conflict,
        };
        self.retrying("start", || {
            self.book_series_once(actor, &room, &holder, &plan)
        })
        .await
    }

    /// Decides each occurrence on the room's bookings overlapping the whole series (one read),
    /// then writes the series and the free occurrences in one transaction. A booking committed
    /// meanwhile hits the backends' backstop: the attempt is `Contended` and runs again on a
    /// fresh read (so SKIP skips it, FAIL lists it).
    async fn book_series_once(
        &self,
        actor: &Actor,
        room: &Room,
        holder: &User,
        plan: &SeriesPlan,
    ) -> DomainResult<SeriesOutcome> {
        let (Some(first), Some(last)) = (plan.starts.first(), plan.starts.last()) else {
            return Err(DomainError::internal("a rule without occurrences"));
        };
        let taken = self
            .store
            .room_bookings(room.id, *first, *last + plan.duration)
            .await?;
        let (free, conflicting): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) =
            plan.starts.iter().partition(|start| {
                !taken
                    .iter()
                    .any(|b| b.overlaps(**start, **start + plan.duration))
            });
        if !conflicting.is_empty() && (plan.on_conflict == OnConflict::Fail || free.is_empty()) {
            return Ok(SeriesOutcome::Conflicting(conflicting));
        }
        let series = BookingSeries {
            skipped: conflicting,
            ..plan.series.clone()
        };
        let bookings: Vec<Booking> = free
            .iter()
            .map(|start| Booking {
                id: BookingId::new(),
                room_id: room.id,
                site_id: room.site_id,
                organization_id: room.organization_id,
                user_id: holder.id,
                created_by: actor.user.id,
                title: series.title.clone(),
                start: *start,
                end: *start + plan.duration,
                source: plan.source,
                status: BookingStatus::Confirmed,
                checked_in_at: None,
                release_at: room.policy.release_at(*start, *start + plan.duration),
                created_at: series.created_at,
                series_id: Some(series.id),
            })
            .collect();
        let mut tx = self.store.begin().await?;
        match tx
            .insert_booking_series_held_by(&series, &bookings, holder)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                drop(tx);
                return Err(self.holder_changed(holder).await);
            }
            // Taken since read: decide again on what is committed now.
            Err(StorageError::Unique(UniqueKey::BookingOverlap)) => {
                return Err(DomainError::Contended);
            }
            Err(error) => return Err(error.into()),
        }
        for booking in &bookings {
            self.booking_written(&mut *tx, actor, booking, BookingEventKind::Created)
                .await?;
        }
        if let Some(first) = bookings.first() {
            // One invitation for the whole series (its rule, its skipped dates).
            self.enqueue_series_mail(
                &mut *tx,
                EmailKind::BookingConfirmed,
                &series,
                first,
                holder,
                room,
                &[],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(SeriesOutcome::Booked {
            series: Box::new(series),
            bookings,
        })
    }

    /// The series of `ids` the actor may see (their rooms are visible to them): two reads.
    pub async fn load_booking_series(
        &self,
        actor: &Actor,
        ids: &[BookingSeriesId],
    ) -> DomainResult<Vec<BookingSeries>> {
        let series = self.store.booking_series_by_ids(ids).await?;
        self.in_visible_rooms(actor, series, |s| s.room_id).await
    }

    /// Every occurrence of `series`, cancelled ones included, by start. The series is one the
    /// caller already holds through a read that checked the actor may see it
    /// ([`Domain::load_booking_series`], or its creation): occurrences are in its room.
    pub async fn series_occurrences(&self, series: &BookingSeries) -> DomainResult<Vec<Booking>> {
        Ok(self.store.series_bookings(series.id).await?)
    }

    /// Cancels occurrence `id` of its series, and the following or all others as `scope`
    /// says; answers the occurrences in scope as they now are.
    pub async fn cancel_booking_series(
        &self,
        actor: &Actor,
        id: BookingId,
        scope: SeriesScope,
    ) -> DomainResult<Vec<Booking>> {
        self.retrying("id", || self.cancel_booking_series_once(actor, id, scope))
            .await
    }

    async fn cancel_booking_series_once(
        &self,
        actor: &Actor,
        id: BookingId,
        scope: SeriesScope,
    ) -> DomainResult<Vec<Booking>> {
        // For the holder's e-mail: neither the holder, the room nor the series of a booking
        // changes.
        let (seen, room, _) = self.booking_in_room(actor, id).await?;
        let mailed = self.series_recipient(actor, &seen, room).await?;
        let mut tx = self.store.begin().await?;
        let mut in_scope = self
            .lock_series_scope(&mut *tx, actor, &seen, scope)
            .await?;
        let mut cancelled = Vec::new();
        for booking in in_scope.iter_mut() {
            if booking.status == BookingStatus::Confirmed {
                booking.status = BookingStatus::Cancelled;
                cancelled.push(booking.id);
            }
        }
        let changed: Vec<Locked<Booking>> = in_scope
            .into_iter()
            .filter(|b| cancelled.contains(&b.id))
            .collect();
        tx.update_bookings(&changed).await?;
        for booking in &changed {
            self.booking_written(&mut *tx, actor, booking, BookingEventKind::Cancelled)
                .await?;
        }
        if let (Some((series, holder, room)), false) = (&mailed, changed.is_empty()) {
            // The whole series cancelled, or only these occurrences of it.
            let instances: Vec<SeriesInstance> = if scope == SeriesScope::All {
                Vec::new()
            } else {
                changed
                    .iter()
                    .map(|b| SeriesInstance {
                        original: b.start,
                        now: None,
                    })
                    .collect()
            };
            self.enqueue_series_mail(
                &mut *tx,
                EmailKind::BookingCancelled,
                series,
                &seen,
                holder,
                room,
                &instances,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed.into_iter().map(Locked::into_inner).collect())
    }

    /// Moves, resizes or renames occurrence `id` of its series, and the following or all others
    /// as `scope` says, each by the same shift of local time; answers the occurrences changed.
    pub async fn update_booking_series(
        &self,
        actor: &Actor,
        id: BookingId,
        scope: SeriesScope,
        changes: SeriesChanges,
    ) -> DomainResult<Vec<Booking>> {
        self.retrying("id", || {
            self.update_booking_series_once(actor, id, scope, &changes)
        })
        .await
    }

    async fn update_booking_series_once(
        &self,
        actor: &Actor,
        id: BookingId,
        scope: SeriesScope,
        changes: &SeriesChanges,
    ) -> DomainResult<Vec<Booking>> {
        let (seen, room, site) = self.booking_in_room(actor, id).await?;
        let mailed = self.series_recipient(actor, &seen, room.clone()).await?;
        let title = changes
            .title
            .as_deref()
            .map(|t| optional_text("title", Some(t), TITLE_MAX))
            .transpose()?;
        let mut tx = self.store.begin().await?;
        let mut in_scope = self
            .lock_series_scope(&mut *tx, actor, &seen, scope)
            .await?;
        let named = in_scope
            .iter()
            .find(|b| b.id == id)
            .map(|b| Booking::clone(b))
            .ok_or(DomainError::NotFound("booking"))?;
        if named.status != BookingStatus::Confirmed {
            return Err(DomainError::validation(
                "id",
                "a cancelled or released booking cannot change",
            ));
        }
        in_scope.retain(|b| b.status == BookingStatus::Confirmed);
        let zone = site.time_zone;
        let new_start = changes.start.unwrap_or(named.start);
        let new_end = changes.end.unwrap_or(named.end);
        let shift = local(new_start, zone) - local(named.start, zone);
        let duration = new_end - new_start;
        let moved = (new_start, new_end) != (named.start, named.end);
        let now = self.now();
        let originals: Vec<DateTime<Utc>> = in_scope.iter().map(|b| b.start).collect();
        for booking in in_scope.iter_mut() {
            if moved {
                let start = local_instant(zone, local(booking.start, zone) + shift);
                check_policy(&room, zone, start, start + duration, now)
                    .map_err(|error| on_occurrence(error, booking.start))?;
                if booking.checked_in_at.is_none() {
                    // Moved or resized: the check-in deadline follows.
                    booking.release_at = room.policy.release_at(start, start + duration);
                }
                booking.start = start;
                booking.end = start + duration;
            }
            if let Some(title) = &title {
                booking.title = title.clone();
            }
        }
        if !moved
            && in_scope
                .iter()
                .all(|b| title.as_ref().is_none_or(|t| *t == b.title))
        {
            // Nothing changes: nothing to write, publish or e-mail.
            return Ok(in_scope.into_iter().map(Locked::into_inner).collect());
        }
        if moved {
            self.check_series_overlap(&*tx, &in_scope).await?;
        }
        tx.update_bookings(&in_scope).await?;
        for booking in &in_scope {
            self.booking_written(&mut *tx, actor, booking, BookingEventKind::Updated)
                .await?;
        }
        if let (Some((series, holder, room)), Some(shown)) = (&mailed, in_scope.first()) {
            let instances: Vec<SeriesInstance> = in_scope
                .iter()
                .zip(&originals)
                .map(|(b, original)| SeriesInstance {
                    original: *original,
                    now: Some((b.start, b.end)),
                })
                .collect();
            self.enqueue_series_mail(
                &mut *tx,
                EmailKind::BookingChanged,
                series,
                shown,
                holder,
                room,
                &instances,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(in_scope.into_iter().map(Locked::into_inner).collect())
    }

    /// Refuses moved occurrences that overlap each other or another confirmed booking of the
    /// room (one read for all of them; the backends' backstop holds under concurrency).
    async fn check_series_overlap(
        &self,
        tx: &dyn crate::storage::Transaction,
        moved: &[Locked<Booking>],
    ) -> DomainResult<()> {
        let (Some(room), Some(from), Some(to)) = (
            moved.first().map(|b| b.room_id),
            moved.iter().map(|b| b.start).min(),
            moved.iter().map(|b| b.end).max(),
        ) else {
            return Ok(());
        };
        let ids: Vec<BookingId> = moved.iter().map(|b| b.id).collect();
        let others = tx.room_bookings(room, from, to).await?;
        let clash = moved.iter().any(|b| {
            others
                .iter()
                .filter(|o| !ids.contains(&o.id))
                .any(|o| o.overlaps(b.start, b.end))
                || moved
                    .iter()
                    .any(|o| o.id != b.id && o.overlaps(b.start, b.end))
        });
        if clash {
            return Err(conflict());
        }
        Ok(())
    }

    /// Locks the occurrences of `seen`'s series that `scope` covers, in id order, and checks on
    /// the locked copies that the actor may change each: the one named, and for the wider
    /// scopes the others (following it, or all) that have not started.
    async fn lock_series_scope(
        &self,
        tx: &mut dyn crate::storage::Transaction,
        actor: &Actor,
        seen: &Booking,
        scope: SeriesScope,
    ) -> DomainResult<Vec<Locked<Booking>>> {
        let Some(series) = seen.series_id else {
            return Err(DomainError::validation(
                "id",
                "this booking is not an occurrence of a series",
            ));
        };
        let now = self.now();
        let in_scope = |b: &Booking, named_start: DateTime<Utc>| {
            b.id == seen.id
                || (b.start > now && (scope == SeriesScope::All || b.start > named_start))
        };
        let ids: Vec<BookingId> = match scope {
            SeriesScope::Occurrence => vec![seen.id],
            SeriesScope::ThisAndFollowing | SeriesScope::All => tx
                .series_bookings(series)
                .await?
                .into_iter()
                .filter(|b| in_scope(b, seen.start))
                .map(|b| b.id)
                .collect(),
        };
        let mut locked = tx.lock_bookings(&ids).await?;
        // Decided again on the locked copies: one moved since read may have left the scope.
        let named_start = locked
            .iter()
            .find(|b| b.id == seen.id)
            .map(|b| b.start)
            .ok_or(DomainError::NotFound("booking"))?;
        locked.retain(|b| in_scope(b, named_start));
        for booking in &locked {
            self.require_booking_manager(actor, booking)?;
        }
        Ok(locked)
    }
}

/// What creating a series needs besides the room and the holder.
struct SeriesPlan {
    /// The series as it will be written (without its skipped dates, decided per attempt).
    series: BookingSeries,
    starts: Vec<DateTime<Utc>>,
    duration: Duration,
    source: BookingSource,
    on_conflict: OnConflict,
}

/// Wall-clock time of `at` in `zone`.
fn local(at: DateTime<Utc>, zone: TimeZone) -> chrono::NaiveDateTime {
    at.with_timezone(&zone.tz()).naive_local()
}

/// A policy error about one occurrence says which.
fn on_occurrence(error: DomainError, start: DateTime<Utc>) -> DomainError {
    match error {
        DomainError::Validation { field, message } => DomainError::Validation {
            field,
            message: format!("the occurrence of {}: {message}", start.to_rfc3339()),
        },
        other => other,
    }
}

impl Domain {
    /// The series of occurrence `seen` and its holder, with its `room`, for the holder's
    /// e-mail (read before the transaction: none of them changes); `None` when one is gone.
    async fn series_recipient(
        &self,
        actor: &Actor,
        seen: &Booking,
        room: Room,
    ) -> DomainResult<Option<(BookingSeries, User, Room)>> {
        let Some(series_id) = seen.series_id else {
            return Ok(None);
        };
        let series = self.store.booking_series(series_id).await?;
        let holder = self.holder_for_mail(actor, seen).await?;
        Ok(series
            .zip(holder)
            .map(|(series, holder)| (series, holder, room)))
    }
}
