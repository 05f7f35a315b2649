//! Check-in and the release of no-shows (issue 14, items 3 and 5). A room whose policy asks for
//! check-in gives each booking a deadline (`Booking::release_at`, its start plus the policy's
//! `release_after_minutes`, fixed when it is booked or moved). The holder checks in from the app,
//! or at the door by giving their booking code to the room's tablet, from
//! [`CHECK_IN_OPENS_MINUTES`] before the start until the deadline. A booking still not checked in
//! then is released by [`Domain::release_no_shows`]: no longer blocking the room, its tablets told
//! by a `RELEASED` event, its holder by e-mail.
//!
//! At the door the tablet also extends the booking under way by a slot, or ends it now: each with
//! the holder's code, so that the action is tied to that person and not to whoever taps.

use chrono::{DateTime, Duration, Utc};

use crate::access::Actor;
use crate::booking_rules::next_slot_boundary;
use crate::error::{DomainError, DomainResult};
use crate::ids::{BookingId, RoomId, UserId};
use crate::model::*;
use crate::ops::Domain;
use crate::storage::{Locked, Transaction};

/// How many due bookings one release transaction takes at most.
pub const RELEASE_BATCH: usize = 100;

/// What the holder does at the door, with their code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorAction {
    CheckIn,
    /// Moves the end of the booking under way one slot later, when that slot is free and the
    /// room's longest booking allows it.
    Extend,
    /// Ends the booking under way at the end of the slot in progress: the rest is free again.
    EndNow,
}

/// VALIDATION on `bookingId` unless `booking` may be checked in at `now`.
fn check_in_window(booking: &Booking, now: DateTime<Utc>) -> DomainResult<()> {
    if booking.status != BookingStatus::Confirmed {
        return Err(DomainError::validation(
            "bookingId",
            "a cancelled or released booking cannot be checked in",
        ));
    }
    let Some(deadline) = booking.release_at else {
        return Err(DomainError::validation(
            "bookingId",
            "this room asks for no check-in",
        ));
    };
    if now < booking.start - Duration::minutes(CHECK_IN_OPENS_MINUTES) {
        return Err(DomainError::validation(
            "bookingId",
            format!("check-in opens {CHECK_IN_OPENS_MINUTES} minutes before the start"),
        ));
    }
    if now >= deadline || now >= booking.end {
        return Err(DomainError::validation(
            "bookingId",
            "too late to check in: the booking is being released",
        ));
    }
    Ok(())
}

fn next_slot_taken() -> DomainError {
    DomainError::conflict("bookingId", "the next slot is already booked")
}

/// VALIDATION on `bookingId` unless `booking` is under way at `now`.
fn under_way(booking: &Booking, now: DateTime<Utc>) -> DomainResult<()> {
    if booking.status != BookingStatus::Confirmed || now < booking.start || now >= booking.end {
        return Err(DomainError::validation(
            "bookingId",
            "only the booking under way can be extended or ended",
        ));
    }
    Ok(())
}

impl Domain {
    /// The holder checks in from the app (only the holder: anyone else is FORBIDDEN).
    pub async fn check_in(&self, actor: &Actor, id: BookingId) -> DomainResult<Booking> {
        actor.require_person()?;
        self.retrying("bookingId", || self.check_in_once(actor, id))
            .await
    }

    /// Everything in the transaction, decided on the locked row: the holder's own booking needs
    /// no visibility check beforehand (it is in their organization, and theirs).
    async fn check_in_once(&self, actor: &Actor, id: BookingId) -> DomainResult<Booking> {
        let mut tx = self.store.begin().await?;
        let mut booking = tx
            .lock_bookings(&[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("booking"))?;
        if booking.user_id != actor.user.id {
            drop(tx);
            // NOT_FOUND for a booking the actor may not see, else FORBIDDEN.
            self.booking(actor, id).await?;
            return Err(DomainError::forbidden("only the holder checks in"));
        }
        self.check_in_locked(&mut *tx, Some(actor), &mut booking)
            .await?;
        tx.commit().await?;
        Ok(booking.into_inner())
    }

    /// Checks in a locked booking (nothing to write when it already is).
    async fn check_in_locked(
        &self,
        tx: &mut dyn Transaction,
        actor: Option<&Actor>,
        booking: &mut Locked<Booking>,
    ) -> DomainResult<()> {
        if booking.checked_in_at.is_some() && booking.status == BookingStatus::Confirmed {
            return Ok(());
        }
        let now = self.now();
        check_in_window(booking, now)?;
        booking.checked_in_at = Some(now);
        // One statement, no savepoint: checking in moves nothing, so it cannot overlap.
        tx.update_bookings(std::slice::from_ref(&*booking)).await?;
        self.record_booking_change(
            tx,
            actor,
            booking,
            BookingEventKind::Updated,
            "booking.checked_in",
        )
        .await
    }

    /// A room tablet acts on a booking of its room for the person whose booking `code` is: only
    /// the holder's code is accepted (another person's valid code is FORBIDDEN on `code`; a
    /// wrong one is throttled and VALIDATION on `code`, as when booking at the door).
    pub async fn at_the_door(
        &self,
        actor: &Actor,
        id: BookingId,
        code: &str,
        action: DoorAction,
    ) -> DomainResult<Booking> {
        let Some(device) = &actor.device else {
            return Err(DomainError::forbidden(
                "this is for room tablets, with the holder's booking code (use a device token)",
            ));
        };
        let seen = self
            .store
            .booking(id)
            .await?
            .ok_or(DomainError::NotFound("booking"))?;
        // The tablet's own room (or a room of its site) only.
        let (room, site) = self
            .room_and_site(actor, seen.room_id)
            .await
            .map_err(|_| DomainError::NotFound("booking"))?;
        let person = self
            .person_at_the_door(actor, device, seen.organization_id, code)
            .await?;
        if person.id != seen.user_id {
            return Err(DomainError::ForbiddenOn {
                field: "code".into(),
                message: "this is not the booking code of the booking's holder".into(),
            });
        }
        self.retrying("bookingId", || {
            self.at_the_door_once(actor, id, &person, &room, &site, action)
        })
        .await
    }

    async fn at_the_door_once(
        &self,
        actor: &Actor,
        id: BookingId,
        holder: &User,
        room: &Room,
        site: &Site,
        action: DoorAction,
    ) -> DomainResult<Booking> {
        let mut tx = self.store.begin().await?;
        let mut booking = tx
            .lock_bookings(&[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("booking"))?;
        if booking.user_id != holder.id || booking.room_id != room.id {
            // Changed hands since checked (bookings never do today): decide again.
            return Err(DomainError::Contended);
        }
        let now = self.now();
        match action {
            DoorAction::CheckIn => {
                self.check_in_locked(&mut *tx, Some(actor), &mut booking)
                    .await?;
            }
            DoorAction::Extend => {
                under_way(&booking, now)?;
                if booking.release_at.is_some() && booking.checked_in_at.is_none() {
                    return Err(DomainError::validation("bookingId", "check in first"));
                }
                let slot = Duration::minutes(i64::from(room.policy.slot_minutes));
                let end = booking.end + slot;
                if end - booking.start > Duration::minutes(i64::from(room.policy.max_minutes)) {
                    return Err(DomainError::validation(
                        "end",
                        format!(
                            "a booking lasts at most {} minutes",
                            room.policy.max_minutes
                        ),
                    ));
                }
                booking.end = end;
                // The next slot must be free (the exclusion constraint or the writer lock is the
                // backstop for a booking committed meanwhile).
                self.check_no_overlap(&*tx, &booking)
                    .await
                    .map_err(|e| match e {
                        DomainError::Conflict { .. } => next_slot_taken(),
                        other => other,
                    })?;
                // A booking committed meanwhile breaks the exclusion constraint: the whole
                // attempt fails (as CONFLICT), nothing is kept.
                tx.update_bookings(std::slice::from_ref(&booking)).await?;
                self.record_booking_change(
                    &mut *tx,
                    Some(actor),
                    &booking,
                    BookingEventKind::Updated,
                    "booking.extended",
                )
                .await?;
                // The holder's calendar follows (the meeting's new end).
                self.enqueue_booking_mail(
                    &mut *tx,
                    EmailKind::BookingChanged,
                    &booking,
                    holder,
                    room,
                )
                .await?;
            }
            DoorAction::EndNow => {
                under_way(&booking, now)?;
                let end = next_slot_boundary(now, site.time_zone, room.policy.slot_minutes)
                    .min(booking.end);
                // The holder is at the door: present, whatever the check-in asked.
                booking.checked_in_at.get_or_insert(now);
                let (kind, mail) = if end <= booking.start {
                    // Ended at its very start: nothing of it remains.
                    booking.status = BookingStatus::Cancelled;
                    (BookingEventKind::Cancelled, EmailKind::BookingCancelled)
                } else {
                    booking.end = end;
                    (BookingEventKind::Updated, EmailKind::BookingChanged)
                };
                tx.update_bookings(std::slice::from_ref(&booking)).await?;
                self.record_booking_change(&mut *tx, Some(actor), &booking, kind, "booking.ended")
                    .await?;
                self.enqueue_booking_mail(&mut *tx, mail, &booking, holder, room)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(booking.into_inner())
    }

    /// Releases every booking due at `now` (not checked in by its deadline, not ended), in
    /// transactions of at most [`RELEASE_BATCH`]; answers how many it released. Every replica
    /// runs it: a booking another pass holds is skipped, one it released is no longer due, so
    /// each is released exactly once.
    pub async fn release_no_shows(&self, now: DateTime<Utc>) -> DomainResult<usize> {
        let mut released = 0;
        loop {
            let (taken, written, done) = self.release_batch(now).await?;
            released += done;
            // Every row written is no longer due: the next batch takes others.
            if taken < RELEASE_BATCH || written == 0 {
                return Ok(released);
            }
        }
    }

    /// One transaction: lock what is due (skipping what others hold), decide again on the
    /// locked rows, release them all in one write, queue their events, e-mails and audit
    /// events. Answers (rows taken, rows written, bookings released).
    async fn release_batch(&self, now: DateTime<Utc>) -> DomainResult<(usize, usize, usize)> {
        let mut tx = self.store.begin().await?;
        let mut due = tx.lock_due_releases(now, RELEASE_BATCH).await?;
        let taken = due.len();
        // The compare-and-set: still confirmed, still not checked in, still due.
        due.retain(|b| {
            b.status == BookingStatus::Confirmed
                && b.checked_in_at.is_none()
                && b.release_at.is_some_and(|at| at <= now)
                && b.end > now
        });
        if due.is_empty() {
            return Ok((taken, 0, 0));
        }
        let written = due.len();
        let mut rooms: Vec<RoomId> = due.iter().map(|b| b.room_id).collect();
        rooms.sort();
        rooms.dedup();
        let rooms = tx.rooms_by_ids(&rooms).await?;
        // The room's rule as it stands at the deadline decides: a room that no longer asks for
        // check-in keeps the booking, which then has no deadline any more.
        for booking in &mut due {
            let asks = rooms
                .iter()
                .any(|r| r.id == booking.room_id && r.policy.check_in_required);
            if asks {
                booking.status = BookingStatus::Released;
            } else {
                booking.release_at = None;
            }
        }
        tx.update_bookings(&due).await?;
        due.retain(|b| b.status == BookingStatus::Released);
        let mut holders: Vec<UserId> = due.iter().map(|b| b.user_id).collect();
        holders.sort();
        holders.dedup();
        let holders = tx.users_by_ids(&holders).await?;
        for booking in &due {
            let holder = holders.iter().find(|u| u.id == booking.user_id);
            let room = rooms.iter().find(|r| r.id == booking.room_id);
            if let (Some(holder), Some(room)) = (holder, room) {
                // Like a cancellation: the calendar takes the meeting out.
                self.enqueue_booking_mail(
                    &mut *tx,
                    EmailKind::BookingReleased,
                    booking,
                    holder,
                    room,
                )
                .await?;
            }
        }
        for booking in &due {
            self.record_booking_change(
                &mut *tx,
                None,
                booking,
                BookingEventKind::Released,
                "booking.released",
            )
            .await?;
        }
        tx.commit().await?;
        Ok((taken, written, due.len()))
    }
}
