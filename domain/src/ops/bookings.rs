//! Booking rooms (DESIGN.md §5): for oneself (`bookings: SELF`), for others (`OTHERS`), any
//! booking (`ALL`); from a tablet with a personal booking code. Two confirmed bookings of a room
//! never overlap: checked here inside the transaction, and enforced again by each backend
//! (memory: the writer lock; PostgreSQL: the exclusion constraint). Every change is published
//! to subscribers once committed.

use chrono::{DateTime, NaiveDate, Utc};

use crate::access::{Actor, SiteAccess, effective_site_ids};
use crate::booking_rules::{check_policy, local_day};
use crate::error::{DomainError, DomainResult};
use crate::ids::{BookingId, RoomId, SiteId, UserId};
use crate::model::*;
use crate::ops::{Domain, page_size};
use crate::permissions::{AccessLevel, BookingsPermission};
use crate::storage::{Locked, Transaction};
use crate::throttle::{Limit, claim_attempt, release};
use crate::values::optional_text;

pub(crate) const TITLE_MAX: usize = 200;

#[derive(Debug, Clone)]
pub struct NewBooking {
    pub room_id: RoomId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The holder; the actor when omitted.
    pub user_id: Option<UserId>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BookingChanges {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub room_id: Option<RoomId>,
    pub site_id: Option<SiteId>,
    pub user_id: Option<UserId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<BookingStatus>,
}

/// What a subscriber watches: one room, or every room of a site, as far as it may see.
#[derive(Debug, Clone)]
pub struct BookingWatch {
    room: Option<RoomId>,
    site: Option<SiteId>,
    /// A tablet scoped to one room hears only of that room, whatever it watches.
    device_room: Option<RoomId>,
    /// The organization of the room or site watched (its bookings' organization).
    organization: crate::ids::OrganizationId,
}

impl BookingWatch {
    /// The organization whose bookings this watch hears of.
    pub fn organization_id(&self) -> crate::ids::OrganizationId {
        self.organization
    }

    pub fn wants(&self, event: &BookingEvent) -> bool {
        let b = &event.booking;
        self.room.is_none_or(|r| b.room_id == r)
            && self.site.is_none_or(|s| b.site_id == s)
            && self.device_room.is_none_or(|r| b.room_id == r)
    }
}

/// A room, its site, and a day of that site's calendar: one schedule to read.
pub type ScheduleKey = (RoomId, SiteId, NaiveDate);

/// `[from, to)`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

/// A booking overlapping another confirmed one of its room: one error whatever found it (the
/// domain's check or the storage's backstop).
pub(crate) fn conflict() -> DomainError {
    DomainError::conflict("start", "the room is already booked at that time")
}

impl Domain {
    /// Whether `holder` may use `site`: everywhere with `sites: EDIT`, else where granted.
    async fn holder_may_use(
        &self,
        actor: &Actor,
        holder: &User,
        site: SiteId,
    ) -> DomainResult<bool> {
        // Booking for oneself: the actor's own rights and grants, already read for this request.
        if actor.device.is_none() && holder.id == actor.user.id {
            return Ok(actor
                .site_access(&*self.store, holder.organization_id)
                .await?
                .allows(site));
        }
        let profile = self.store.profile(holder.profile_id).await?;
        if profile.is_some_and(|p| p.permissions.sites >= AccessLevel::Edit) {
            return Ok(true);
        }
        Ok(effective_site_ids(&*self.store, holder)
            .await?
            .contains(&site))
    }

    /// Refuses a confirmed booking that overlaps another confirmed one of its room (the
    /// backends' exclusion constraint or writer lock is the backstop under concurrency).
    pub(crate) async fn check_no_overlap(
        &self,
        tx: &dyn Transaction,
        booking: &Booking,
    ) -> DomainResult<()> {
        if booking.status == BookingStatus::Confirmed {
            let overlapping = tx
                .room_bookings(booking.room_id, booking.start, booking.end)
                .await?;
            if overlapping.iter().any(|other| other.id != booking.id) {
                return Err(conflict());
            }
        }
        Ok(())
    }

    /// Audits a booking just written and queues its event; the caller commits.
    pub(crate) async fn booking_written(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        booking: &Booking,
        kind: BookingEventKind,
    ) -> DomainResult<()> {
        let action = match kind {
            BookingEventKind::Created => "booking.created",
            BookingEventKind::Updated => "booking.updated",
            BookingEventKind::Cancelled => "booking.cancelled",
            BookingEventKind::Released => "booking.released",
        };
        self.record_booking_change(tx, Some(actor), booking, kind, action)
            .await
    }

    /// Audits `action` on a booking just written (by `actor`, or by Concierge itself) and
    /// queues its event; the caller commits.
    pub(crate) async fn record_booking_change(
        &self,
        tx: &mut dyn Transaction,
        actor: Option<&Actor>,
        booking: &Booking,
        kind: BookingEventKind,
        action: &str,
    ) -> DomainResult<()> {
        let target = Some(("Booking", booking.id.to_string()));
        tx.insert_audit_event(&self.audit(actor, Some(booking.organization_id), action, target))
            .await?;
        tx.publish_booking_event(&BookingEvent {
            kind,
            booking: booking.clone(),
        })
        .await?;
        Ok(())
    }

    /// Writes a change of a booking locked by `tx` (checking overlap first), audits it and
    /// queues its event; the caller commits.
    async fn write_locked_booking(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        booking: &Locked<Booking>,
        kind: BookingEventKind,
    ) -> DomainResult<()> {
        self.check_no_overlap(&*tx, booking).await?;
        tx.update_booking(booking).await?;
        self.booking_written(tx, actor, booking, kind).await
    }

    /// Books a room for the actor, or for another user with `bookings` ≥ OTHERS.
    pub async fn create_booking(&self, actor: &Actor, input: NewBooking) -> DomainResult<Booking> {
        if actor.device.is_some() {
            return Err(DomainError::forbidden(
                "a tablet books with a person's code (createBookingWithCode)",
            ));
        }
        let context = self
            .room_for_booking(actor, input.room_id, input.start, input.end)
            .await?;
        let (holder, source) = self.booking_holder(actor, input.user_id).await?;
        self.book(
            actor,
            context,
            holder,
            input.start,
            input.end,
            input.title,
            source,
        )
        .await
    }

    /// Who holds a booking made in an app: the actor, or (with `bookings` ≥ OTHERS) another
    /// person they may see; and the booking's source accordingly.
    pub(crate) async fn booking_holder(
        &self,
        actor: &Actor,
        user_id: Option<UserId>,
    ) -> DomainResult<(User, BookingSource)> {
        let holder_id = user_id.unwrap_or(actor.user.id);
        let for_someone_else = holder_id != actor.user.id;
        let needed = if for_someone_else {
            BookingsPermission::Others
        } else {
            BookingsPermission::SelfOnly
        };
        actor.require("bookings", actor.permissions.bookings, needed)?;
        Ok(if for_someone_else {
            (self.user(actor, holder_id).await?, BookingSource::Admin)
        } else {
            (actor.user.clone(), BookingSource::App)
        })
    }

    /// Whether `holder` may hold a booking of `room` made by `actor`: a write in the room's
    /// organization, an active holder of it, with access to the room's site.
    pub(crate) async fn check_holder(
        &self,
        actor: &Actor,
        room: &Room,
        holder: &User,
    ) -> DomainResult<()> {
        // Booking is a write: read-only reach into a client company (clients: READ) may not.
        actor.require_write_in_seen(room.organization_id)?;
        if holder.organization_id != room.organization_id || holder.status != UserStatus::Active {
            return Err(DomainError::forbidden(
                "this person cannot hold a booking in this room",
            ));
        }
        if !self.holder_may_use(actor, holder, room.site_id).await? {
            return Err(DomainError::ForbiddenOn {
                field: "userId".into(),
                message: "this person has no access to the room's site".into(),
            });
        }
        Ok(())
    }

    /// The checks and the write shared by every way of booking.
    #[allow(clippy::too_many_arguments)]
    async fn book(
        &self,
        actor: &Actor,
        context: RoomForBooking,
        holder: User,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        title: Option<String>,
        source: BookingSource,
    ) -> DomainResult<Booking> {
        let RoomForBooking { room, site, .. } = &context;
        self.check_holder(actor, room, &holder).await?;
        check_policy(room, site.time_zone, start, end, self.now())?;
        // Decided on what was read; the backends' exclusion constraint (or writer lock) is the
        // backstop for a booking that commits meanwhile.
        if !context.overlapping.is_empty() {
            return Err(conflict());
        }
        let booking = Booking {
            id: BookingId::new(),
            room_id: room.id,
            site_id: room.site_id,
            organization_id: room.organization_id,
            user_id: holder.id,
            created_by: actor.user.id,
            title: optional_text("title", title.as_deref(), TITLE_MAX)?,
            start,
            end,
            source,
            status: BookingStatus::Confirmed,
            checked_in_at: None,
            release_at: room.policy.release_at(start, end),
            created_at: self.now(),
            series_id: None,
        };
        self.retrying("start", || {
            self.insert_booking(actor, &booking, &holder, room)
        })
        .await?;
        Ok(booking)
    }

    /// Inserts a new booking while its holder is still active: the insert holds the holder's
    /// row, so that a deactivation (which cancels their upcoming bookings) either sees this
    /// booking or is seen by it.
    async fn insert_booking(
        &self,
        actor: &Actor,
        booking: &Booking,
        holder: &User,
        room: &Room,
    ) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        if !tx.insert_booking_held_by(booking, holder).await? {
            drop(tx);
            return Err(self.holder_changed(holder).await);
        }
        self.booking_written(&mut *tx, actor, booking, BookingEventKind::Created)
            .await?;
        self.enqueue_booking_mail(&mut *tx, EmailKind::BookingConfirmed, booking, holder, room)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The holder changed since checked (an insert held by them wrote nothing): refused if no
    /// longer active, else tried again.
    pub(crate) async fn holder_changed(&self, holder: &User) -> DomainError {
        match self.store.user(holder.id).await {
            Ok(Some(user)) if user.status == UserStatus::Active => DomainError::Contended,
            Ok(_) => DomainError::forbidden("this person cannot hold a booking in this room"),
            Err(error) => error.into(),
        }
    }

    async fn organization_site(&self, id: SiteId) -> DomainResult<Site> {
        self.store
            .site(id)
            .await?
            .ok_or_else(|| DomainError::internal(format!("dangling site {id}")))
    }

    /// A tablet books for the owner of a booking code (seed 000). Wrong codes are throttled per
    /// device, per address and per organization.
    pub async fn create_booking_with_code(
        &self,
        actor: &Actor,
        room_id: RoomId,
        code: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        title: Option<String>,
    ) -> DomainResult<Booking> {
        let Some(device) = &actor.device else {
            return Err(DomainError::forbidden(
                "booking with a code is for room tablets (use a device token)",
            ));
        };
        let context = self.room_for_booking(actor, room_id, start, end).await?;
        let holder = self
            .person_at_the_door(actor, device, context.room.organization_id, code)
            .await?;
        self.book(
            actor,
            context,
            holder,
            start,
            end,
            title,
            BookingSource::Tablet,
        )
        .await
    }

    /// The active person of `organization` whose booking code `code` is, as a tablet presents
    /// it: wrong codes are throttled per device, per address and per organization, and audited
    /// (`booking_code.failed`, naming the tablet) before VALIDATION on `code`.
    pub(crate) async fn person_at_the_door(
        &self,
        actor: &Actor,
        device: &Device,
        organization: crate::ids::OrganizationId,
        code: &str,
    ) -> DomainResult<User> {
        let rules = self.config.throttle;
        let mut limits = vec![
            Limit::code_guesses(&device.id.to_string(), &rules),
            Limit::organization_codes(organization, &rules),
        ];
        limits.extend(actor.ip.as_deref().map(|ip| Limit::address(ip, &rules)));
        let (claimed, _) =
            claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await?;
        let holder = self.user_by_booking_code(organization, code).await?;
        let Some(holder) = holder.filter(|u| u.status == UserStatus::Active) else {
            // In the organization's audit log, naming the tablet that was tried.
            let mut event = self.audit(
                None,
                Some(organization),
                "booking_code.failed",
                Some(("Device", device.id.to_string())),
            );
            event.ip = actor.ip.clone();
            let mut tx = self.store.begin().await?;
            tx.insert_audit_event(&event).await?;
            tx.commit().await?;
            return Err(DomainError::validation(
                "code",
                "this booking code is not valid",
            ));
        };
        release(&*self.attempts, &claimed).await?;
        self.rehash_booking_code(&holder, code).await?;
        Ok(holder)
    }

    /// A booking the actor may see: in a room they may see.
    pub async fn booking(&self, actor: &Actor, id: BookingId) -> DomainResult<Booking> {
        self.booking_in_room(actor, id)
            .await
            .map(|(booking, _, _)| booking)
    }

    /// A booking the actor may see, with its room and the room's site, read once for both the
    /// visibility check and what the caller does next.
    pub(crate) async fn booking_in_room(
        &self,
        actor: &Actor,
        id: BookingId,
    ) -> DomainResult<(Booking, Room, Site)> {
        let booking = self
            .store
            .booking(id)
            .await?
            .ok_or(DomainError::NotFound("booking"))?;
        let (room, site) = self
            .room_and_site(actor, booking.room_id)
            .await
            .map_err(|_| DomainError::NotFound("booking"))?;
        Ok((booking, room, site))
    }

    /// The holder of `booking`, for its e-mail: the actor themselves when it is theirs (no
    /// read); a booking never changes holder, so this is read before the transaction.
    pub(crate) async fn holder_for_mail(
        &self,
        actor: &Actor,
        booking: &Booking,
    ) -> DomainResult<Option<User>> {
        if actor.is_self(booking.user_id) {
            return Ok(Some(actor.user.clone()));
        }
        Ok(self.store.user(booking.user_id).await?)
    }

    pub async fn load_bookings(
        &self,
        actor: &Actor,
        ids: &[BookingId],
    ) -> DomainResult<Vec<Booking>> {
        let bookings = self.store.bookings_by_ids(ids).await?;
        self.in_visible_rooms(actor, bookings, |b| b.room_id).await
    }

    /// Those of `items` in a room the actor may see (one batch of room reads).
    pub(crate) async fn in_visible_rooms<T>(
        &self,
        actor: &Actor,
        items: Vec<T>,
        room_of: impl Fn(&T) -> RoomId,
    ) -> DomainResult<Vec<T>> {
        let room_ids: Vec<RoomId> = items.iter().map(&room_of).collect();
        let visible: Vec<RoomId> = self
            .load_rooms(actor, &room_ids)
            .await?
            .iter()
            .map(|r| r.id)
            .collect();
        Ok(items
            .into_iter()
            .filter(|item| visible.contains(&room_of(item)))
            .collect())
    }

    /// Whether the actor may change `booking`: their own with SELF, those they made for others
    /// with OTHERS, any with ALL.
    pub(crate) fn require_booking_manager(
        &self,
        actor: &Actor,
        booking: &Booking,
    ) -> DomainResult<()> {
        let needed = if booking.user_id == actor.user.id {
            BookingsPermission::SelfOnly
        } else if booking.created_by == actor.user.id {
            BookingsPermission::Others
        } else {
            BookingsPermission::All
        };
        if actor.device.is_some() {
            return Err(DomainError::forbidden("a tablet cannot change bookings"));
        }
        // Moving or cancelling is a write: not with read-only reach (clients: READ).
        actor.require_write_in_seen(booking.organization_id)?;
        actor.require("bookings", actor.permissions.bookings, needed)
    }

    /// Moves, shortens, extends or renames a booking under the same rules as creating one.
    pub async fn update_booking(
        &self,
        actor: &Actor,
        id: BookingId,
        changes: BookingChanges,
    ) -> DomainResult<Booking> {
        self.retrying("id", || self.update_booking_once(actor, id, &changes))
            .await
    }

    /// Locks booking `id` in `tx` and checks on the locked copy that the actor may change it.
    /// (Whether they may see it was checked before the transaction: a booking never changes
    /// room.)
    async fn lock_manageable_booking(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        id: BookingId,
    ) -> DomainResult<Locked<Booking>> {
        let booking = tx
            .lock_bookings(&[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("booking"))?;
        self.require_booking_manager(actor, &booking)?;
        Ok(booking)
    }

    async fn update_booking_once(
        &self,
        actor: &Actor,
        id: BookingId,
        changes: &BookingChanges,
    ) -> DomainResult<Booking> {
        let (seen, room, site) = self.booking_in_room(actor, id).await?;
        let holder = self.holder_for_mail(actor, &seen).await?;
        let mut tx = self.store.begin().await?;
        let mut booking = self.lock_manageable_booking(&mut *tx, actor, id).await?;
        if booking.status != BookingStatus::Confirmed {
            return Err(DomainError::validation(
                "id",
                "a cancelled or released booking cannot change",
            ));
        }
        let current = Booking::clone(&booking);
        booking.start = changes.start.unwrap_or(current.start);
        booking.end = changes.end.unwrap_or(current.end);
        if changes.title.is_some() {
            booking.title = optional_text("title", changes.title.as_deref(), TITLE_MAX)?;
        }
        if *booking == current {
            return Ok(current);
        }
        if (booking.start, booking.end) != (current.start, current.end) {
            check_policy(
                &room,
                site.time_zone,
                booking.start,
                booking.end,
                self.now(),
            )?;
        }
        if (booking.start, booking.end) != (current.start, current.end)
            && booking.checked_in_at.is_none()
        {
            // Moved or resized: the check-in deadline follows.
            booking.release_at = room.policy.release_at(booking.start, booking.end);
        }
        self.write_locked_booking(&mut *tx, actor, &booking, BookingEventKind::Updated)
            .await?;
        if let Some(holder) = &holder {
            self.enqueue_booking_mail(&mut *tx, EmailKind::BookingChanged, &booking, holder, &room)
                .await?;
        }
        tx.commit().await?;
        Ok(booking.into_inner())
    }

    pub async fn cancel_booking(&self, actor: &Actor, id: BookingId) -> DomainResult<Booking> {
        self.retrying("id", || self.cancel_booking_once(actor, id))
            .await
    }

    async fn cancel_booking_once(&self, actor: &Actor, id: BookingId) -> DomainResult<Booking> {
        // Neither the holder nor the room of a booking changes: read for the e-mail.
        let (seen, room, _) = self.booking_in_room(actor, id).await?;
        let holder = self.holder_for_mail(actor, &seen).await?;
        let mut tx = self.store.begin().await?;
        let mut booking = self.lock_manageable_booking(&mut *tx, actor, id).await?;
        if booking.status != BookingStatus::Confirmed {
            return Ok(booking.into_inner());
        }
        booking.status = BookingStatus::Cancelled;
        self.write_locked_booking(&mut *tx, actor, &booking, BookingEventKind::Cancelled)
            .await?;
        if let Some(holder) = &holder {
            self.enqueue_booking_mail(
                &mut *tx,
                EmailKind::BookingCancelled,
                &booking,
                holder,
                &room,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(booking.into_inner())
    }

    /// Cancels the user's bookings that have not started, inside the caller's transaction
    /// (deactivation), publishing each cancellation.
    pub(crate) async fn cancel_future_bookings(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        user: &User,
    ) -> DomainResult<usize> {
        let now = self.now();
        let mut cancelled = 0;
        let mut after = None;
        loop {
            let query = BookingQuery {
                organization_ids: vec![user.organization_id],
                room_id: None,
                site_ids: None,
                user_id: Some(user.id),
                from: Some(now),
                to: None,
                status: Some(BookingStatus::Confirmed),
                after,
                first: 200,
                count_total: false,
            };
            let page = tx.bookings(&query).await?;
            after = page.items.last().map(|b| (b.start, b.id));
            let ids: Vec<BookingId> = page.items.iter().map(|b| b.id).collect();
            // Locked and read again: one cancelled or moved meanwhile is left as it now is.
            // Bookings under way are left to finish; only those not started are cancelled.
            for mut booking in tx.lock_bookings(&ids).await? {
                if booking.status != BookingStatus::Confirmed || booking.start <= now {
                    continue;
                }
                booking.status = BookingStatus::Cancelled;
                self.write_locked_booking(tx, actor, &booking, BookingEventKind::Cancelled)
                    .await?;
                cancelled += 1;
            }
            if !page.has_next_page {
                return Ok(cancelled);
            }
        }
    }

    /// Bookings the actor may see, by start: in the rooms of sites they may use.
    pub async fn bookings(
        &self,
        actor: &Actor,
        filter: BookingFilter,
        first: Option<i32>,
        after: Option<(DateTime<Utc>, BookingId)>,
        count_total: bool,
    ) -> DomainResult<Page<Booking>> {
        let mut room_id = filter.room_id;
        let org = match (filter.room_id, filter.site_id) {
            (Some(room), _) => self.room(actor, room).await?.organization_id,
            (None, Some(site)) => self.site(actor, site).await?.organization_id,
            (None, None) => actor.organization.id,
        };
        if let Some(device) = &actor.device {
            room_id = room_id.or(device.room_id);
        }
        let site_ids = match actor.site_access(&*self.store, org).await? {
            SiteAccess::All => filter.site_id.map(|s| vec![s]),
            SiteAccess::Only(sites) => Some(
                sites
                    .into_iter()
                    .filter(|s| filter.site_id.is_none_or(|f| f == *s))
                    .collect(),
            ),
        };
        let query = BookingQuery {
            organization_ids: vec![org],
            room_id,
            site_ids,
            user_id: filter.user_id,
            from: filter.from,
            to: filter.to,
            status: filter.status,
            after,
            first: page_size(first)?,
            count_total,
        };
        Ok(self.store.bookings(&query).await?)
    }

    /// Checks a subscription to a room's (or a site's) booking events: the room or site must be
    /// visible to the actor, exactly as for reading it.
    pub async fn watch_bookings(
        &self,
        actor: &Actor,
        room: Option<RoomId>,
        site: Option<SiteId>,
    ) -> DomainResult<BookingWatch> {
        let device_room = actor.device.as_ref().and_then(|d| d.room_id);
        match (room, site) {
            (Some(room), None) => {
                let room = self.room(actor, room).await?;
                Ok(BookingWatch {
                    room: Some(room.id),
                    site: None,
                    device_room,
                    organization: room.organization_id,
                })
            }
            (None, Some(site)) => {
                let site = self.site(actor, site).await?;
                Ok(BookingWatch {
                    room: None,
                    site: Some(site.id),
                    device_room,
                    organization: site.organization_id,
                })
            }
            _ => Err(DomainError::validation(
                "roomId",
                "give either roomId or siteId",
            )),
        }
    }

    /// The schedules of many rooms (each a [`ScheduleKey`]: a room of a site, a day of that site's
    /// calendar) in
    /// a fixed number of reads: the sites (their time zones and visibility), then the bookings
    /// of every room at once. Keys whose room or site the actor may not see get nothing; so do
    /// bookings not of the key's site (the key is checked, not trusted).
    pub async fn load_room_schedules(
        &self,
        actor: &Actor,
        keys: &[ScheduleKey],
    ) -> DomainResult<Vec<(ScheduleKey, Vec<Booking>)>> {
        let mut site_ids: Vec<SiteId> = keys.iter().map(|(_, site, _)| *site).collect();
        site_ids.sort();
        site_ids.dedup();
        let sites = self.store.sites_by_ids(&site_ids).await?;
        let sites = self.visible_sites(actor, sites).await?;
        let days: Vec<(ScheduleKey, Interval)> = keys
            .iter()
            .filter(|(room, site, _)| actor.allows_room_id(*room, *site))
            .filter_map(|key| {
                let site = sites.iter().find(|s| s.id == key.1)?;
                Some((*key, local_day(key.2, site.time_zone)))
            })
            .collect();
        let (Some(from), Some(to)) = (
            days.iter().map(|(_, (from, _))| *from).min(),
            days.iter().map(|(_, (_, to))| *to).max(),
        ) else {
            return Ok(Vec::new());
        };
        let mut rooms: Vec<RoomId> = days.iter().map(|((room, _, _), _)| *room).collect();
        rooms.sort();
        rooms.dedup();
        let bookings = self.store.rooms_bookings(&rooms, from, to).await?;
        Ok(days
            .into_iter()
            .map(|(key, (from, to))| {
                let of_day = bookings
                    .iter()
                    .filter(|b| {
                        b.room_id == key.0 && b.site_id == key.1 && b.start < to && b.end > from
                    })
                    .cloned()
                    .collect();
                (key, of_day)
            })
            .collect())
    }

    /// Confirmed bookings of a room overlapping a day of the site's calendar, by start.
    pub async fn room_schedule(
        &self,
        actor: &Actor,
        room_id: RoomId,
        date: NaiveDate,
    ) -> DomainResult<Vec<Booking>> {
        let room = self.room(actor, room_id).await?;
        let site = self.organization_site(room.site_id).await?;
        let (from, to) = local_day(date, site.time_zone);
        Ok(self.store.room_bookings(room.id, from, to).await?)
    }
}
