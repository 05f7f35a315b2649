//! The data itself and the queries over it.

use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{StorageError, StorageResult, UniqueKey};
use imbl::{HashMap, OrdMap};

/// Every table, keyed by id (UUIDv7, so key order is creation order), plus the unique indexes.
#[derive(Clone, Default)]
pub struct State {
    pub organizations: OrdMap<OrganizationId, Organization>,
    pub profiles: OrdMap<ProfileId, Profile>,
    pub sites: OrdMap<SiteId, Site>,
    pub site_groups: OrdMap<SiteGroupId, SiteGroup>,
    pub rooms: OrdMap<RoomId, Room>,
    pub price_lists: OrdMap<PriceListId, PriceList>,
    pub users: OrdMap<UserId, User>,
    pub sessions: OrdMap<SessionId, Session>,
    pub audit: OrdMap<AuditEventId, AuditEvent>,
    /// Lower-cased e-mail or username → user.
    pub logins: HashMap<String, UserId>,
    pub booking_codes: HashMap<(OrganizationId, String), UserId>,
    /// Current and previous refresh-token hashes → session.
    pub session_tokens: HashMap<String, SessionId>,
    pub bookings: OrdMap<BookingId, Booking>,
    /// Every booking by `(start, id)`: the order of booking lists.
    pub bookings_by_start: OrdMap<(DateTime<Utc>, BookingId), BookingId>,
    /// Every booking of a room by `(start, id)`: overlap checks and schedules.
    pub room_bookings: HashMap<RoomId, OrdMap<(DateTime<Utc>, BookingId), BookingId>>,
    pub booking_series: OrdMap<BookingSeriesId, BookingSeries>,
    /// The occurrences of each series (a booking never changes series).
    pub series_bookings: HashMap<BookingSeriesId, Vec<BookingId>>,
    pub devices: OrdMap<DeviceId, Device>,
    pub device_tokens: HashMap<String, DeviceId>,
    pub invitations: OrdMap<InvitationId, Invitation>,
    pub password_resets: OrdMap<PasswordResetId, PasswordResetToken>,
    /// Invitation and reset token hashes (they share one namespace of link tokens).
    pub link_tokens: HashMap<String, LinkTarget>,
    pub emails: OrdMap<EmailId, OutboundEmail>,
    /// Second factors, by user.
    pub second_factors: OrdMap<UserId, SecondFactor>,
    /// Organizations' second-factor rule (absent: not required).
    pub second_factor_required: OrdMap<OrganizationId, bool>,
    /// SCIM provisioning tokens (few per organization: looked up by hash with a scan).
    pub scim_tokens: OrdMap<ScimTokenId, ScimToken>,
    /// Organizations' identity providers.
    pub sso_connections: OrdMap<OrganizationId, SsoConnection>,
    /// Providers' accounts linked to people, by (`iss`, `sub`).
    pub sso_identities: OrdMap<(String, String), SsoIdentity>,
    /// Sign-ins through a provider under way (a few minutes each: looked up by hash with a scan).
    pub sso_logins: OrdMap<SsoLoginId, SsoLogin>,
    /// Calendar feeds (few per person: looked up by hash with a scan).
    pub calendar_feeds: OrdMap<CalendarFeedId, CalendarFeed>,
}

/// What a link token opens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LinkTarget {
    Invitation(InvitationId),
    PasswordReset(PasswordResetId),
}

pub fn by_ids<K: Ord + Clone, V: Clone>(map: &OrdMap<K, V>, ids: &[K]) -> Vec<V> {
    ids.iter().filter_map(|id| map.get(id).cloned()).collect()
}

pub fn of_orgs<K: Ord + Clone, V: Clone>(
    map: &OrdMap<K, V>,
    orgs: &[OrganizationId],
    org_of: impl Fn(&V) -> OrganizationId,
) -> Vec<V> {
    map.values()
        .filter(|v| orgs.contains(&org_of(v)))
        .cloned()
        .collect()
}

pub fn replace<K: Ord + Clone, V: Clone>(
    map: &mut OrdMap<K, V>,
    id: K,
    value: &V,
) -> StorageResult<()> {
    match map.get_mut(&id) {
        Some(slot) => {
            *slot = value.clone();
            Ok(())
        }
        None => Err(StorageError::Other("update of a missing row".into())),
    }
}

/// One page of `rows` (already filtered and in page order), skipping those `before_cursor`;
/// `total_count` is 0 unless `count`, as on PostgreSQL (which counts only when asked).
fn page<'a, K: 'a, V: Clone + 'a>(
    rows: impl Iterator<Item = (&'a K, &'a V)>,
    before_cursor: impl Fn(&K) -> bool,
    first: usize,
    count: bool,
) -> Page<V> {
    let mut total_count = 0i64;
    let mut items = Vec::new();
    let mut has_next_page = false;
    for (key, value) in rows {
        total_count += 1;
        if before_cursor(key) {
            continue;
        }
        if items.len() < first {
            items.push(value.clone());
        } else {
            has_next_page = true;
        }
    }
    Page {
        items,
        has_next_page,
        total_count: if count { total_count } else { 0 },
    }
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

impl State {
    pub fn organizations_page(&self, q: &OrganizationQuery) -> Page<Organization> {
        let rows = self.organizations.iter().filter(|(_, o)| {
            (o.id == q.own || (q.include_children && o.parent_id == Some(q.own)))
                && q.parent_id.is_none_or(|p| o.parent_id == Some(p))
                && q.kind.is_none_or(|k| o.kind == k)
                && q.search
                    .as_deref()
                    .is_none_or(|s| contains(o.name.as_str(), s))
        });
        page(
            rows,
            |id| q.after.is_some_and(|after| *id <= after),
            q.first,
            q.count_total,
        )
    }

    pub fn sites_page(&self, q: &SiteQuery) -> Page<Site> {
        let rows = self.sites.iter().filter(|(_, s)| {
            q.organization_ids.contains(&s.organization_id)
                && q.only.as_ref().is_none_or(|only| only.contains(&s.id))
        });
        page(
            rows,
            |id| q.after.is_some_and(|after| *id <= after),
            q.first,
            q.count_total,
        )
    }

    pub fn users_page(&self, q: &UserQuery) -> Page<User> {
        let rows = self.users.iter().filter(|(_, u)| {
            q.organization_ids.contains(&u.organization_id)
                && q.status.is_none_or(|s| u.status == s)
                && q.profile_id.is_none_or(|p| u.profile_id == p)
                && q.site.as_ref().is_none_or(|(site, groups)| {
                    u.site_ids.contains(site) || u.site_group_ids.iter().any(|g| groups.contains(g))
                })
                && q.search.as_deref().is_none_or(|s| {
                    contains(u.first_name.as_str(), s)
                        || contains(u.last_name.as_str(), s)
                        || u.email.as_ref().is_some_and(|e| contains(e.as_str(), s))
                        || u.username.as_ref().is_some_and(|n| contains(n.as_str(), s))
                })
        });
        page(
            rows,
            |id| q.after.is_some_and(|after| *id <= after),
            q.first,
            q.count_total,
        )
    }

    pub fn audit_page(&self, q: &AuditQuery) -> Page<AuditEvent> {
        let rows = self.audit.iter().rev().filter(|(_, e)| {
            e.organization_id
                .is_some_and(|o| q.organization_ids.contains(&o))
                && q.actor_id.is_none_or(|a| e.actor_id == Some(a))
                && q.action.as_deref().is_none_or(|a| e.action == a)
                && q.from.is_none_or(|from| e.at >= from)
                && q.to.is_none_or(|to| e.at < to)
        });
        // Newest first: the page continues below the cursor.
        page(
            rows,
            |id| q.before.is_some_and(|before| *id >= before),
            q.first,
            q.count_total,
        )
    }

    /// Inserts or replaces a user, keeping the login and booking-code indexes unique.
    pub fn put_user(&mut self, user: &User, update: bool) -> StorageResult<()> {
        let previous = self.users.get(&user.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other(
                if update {
                    "update of a missing user"
                } else {
                    "duplicate user id"
                }
                .into(),
            ));
        }
        let taken = |key: &String, index: &HashMap<String, UserId>| {
            index.get(key).is_some_and(|id| *id != user.id)
        };
        if let Some(email) = &user.email
            && taken(&email.to_string(), &self.logins)
        {
            return Err(StorageError::Unique(UniqueKey::UserEmail));
        }
        if let Some(username) = &user.username
            && taken(&username.to_string(), &self.logins)
        {
            return Err(StorageError::Unique(UniqueKey::UserUsername));
        }
        if let Some(code) = &user.booking_code_hash
            && self
                .booking_codes
                .get(&(user.organization_id, code.expose().to_owned()))
                .is_some_and(|id| *id != user.id)
        {
            return Err(StorageError::Unique(UniqueKey::BookingCode));
        }
        if let Some(old) = previous {
            for login in [
                old.email.map(|e| e.to_string()),
                old.username.map(|u| u.to_string()),
            ]
            .into_iter()
            .flatten()
            {
                self.logins.remove(&login);
            }
            if let Some(code) = old.booking_code_hash {
                self.booking_codes
                    .remove(&(old.organization_id, code.expose().to_owned()));
            }
        }
        for login in [
            user.email.as_ref().map(|e| e.to_string()),
            user.username.as_ref().map(|u| u.to_string()),
        ]
        .into_iter()
        .flatten()
        {
            self.logins.insert(login, user.id);
        }
        if let Some(code) = &user.booking_code_hash {
            self.booking_codes
                .insert((user.organization_id, code.expose().to_owned()), user.id);
        }
        self.users.insert(user.id, user.clone());
        Ok(())
    }

    pub fn put_session(&mut self, session: &Session, update: bool) -> StorageResult<()> {
        let previous = self.sessions.get(&session.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other("session insert/update mismatch".into()));
        }
        let current = session.refresh_token_hash.expose().to_owned();
        if self
            .session_tokens
            .get(&current)
            .is_some_and(|id| *id != session.id)
        {
            return Err(StorageError::Unique(UniqueKey::SessionToken));
        }
        if let Some(old) = previous {
            self.session_tokens.remove(old.refresh_token_hash.expose());
            if let Some(prev) = old.previous_token_hash {
                self.session_tokens.remove(prev.expose());
            }
        }
        self.session_tokens.insert(current, session.id);
        if let Some(prev) = &session.previous_token_hash {
            self.session_tokens
                .insert(prev.expose().to_owned(), session.id);
        }
        self.sessions.insert(session.id, session.clone());
        Ok(())
    }
}

impl State {
    /// Confirmed bookings of `room` overlapping `[from, to)`, by start.
    pub fn room_overlaps(
        &self,
        room: RoomId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Booking> {
        let Some(index) = self.room_bookings.get(&room) else {
            return vec![];
        };
        // A booking starting before `from - MAX_BOOKING_MINUTES` has ended before `from`.
        let earliest = (
            from - Duration::minutes(MAX_BOOKING_MINUTES),
            BookingId(uuid::Uuid::nil()),
        );
        index
            .range(earliest..)
            .take_while(|((start, _), _)| *start < to)
            .filter_map(|(_, id)| self.bookings.get(id))
            .filter(|b| b.status == BookingStatus::Confirmed && b.end > from)
            .cloned()
            .collect()
    }

    /// The confirmed bookings not checked in, due for release at `now` and not ended, by id.
    pub fn due_releases(&self, now: DateTime<Utc>) -> Vec<BookingId> {
        // A booking's deadline is at or after its start, and it lasts at most
        // MAX_BOOKING_MINUTES: only bookings started within that span can be due.
        let earliest = (
            now - Duration::minutes(MAX_BOOKING_MINUTES),
            BookingId(uuid::Uuid::nil()),
        );
        let mut due: Vec<BookingId> = self
            .bookings_by_start
            .range(earliest..)
            .take_while(|((start, _), _)| *start <= now)
            .filter_map(|(_, id)| self.bookings.get(id))
            .filter(|b| {
                b.status == BookingStatus::Confirmed
                    && b.checked_in_at.is_none()
                    && b.release_at.is_some_and(|at| at <= now)
                    && b.end > now
            })
            .map(|b| b.id)
            .collect();
        due.sort();
        due
    }

    /// The sites of `site_ids` that exist (by id), each with its rooms (by id).
    pub fn sites_with_rooms(&self, site_ids: &[SiteId]) -> Vec<(Site, Vec<Room>)> {
        let mut sites = by_ids(&self.sites, site_ids);
        sites.sort_by_key(|s| s.id);
        sites.dedup_by_key(|s| s.id);
        sites
            .into_iter()
            .map(|site| {
                let mut rooms: Vec<Room> = self
                    .rooms
                    .values()
                    .filter(|r| r.site_id == site.id)
                    .cloned()
                    .collect();
                rooms.sort_by_key(|r| r.id);
                (site, rooms)
            })
            .collect()
    }

    /// Which of `rooms` have a confirmed booking overlapping `[from, to)`, each once.
    pub fn busy_rooms(
        &self,
        rooms: &[RoomId],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<RoomId> {
        let mut busy: Vec<RoomId> = rooms
            .iter()
            .copied()
            .filter(|room| !self.room_overlaps(*room, from, to).is_empty())
            .collect();
        busy.sort();
        busy.dedup();
        busy
    }

    pub fn bookings_page(&self, q: &BookingQuery) -> Page<Booking> {
        let rows = self.bookings_by_start.iter().filter_map(|(key, id)| {
            let b = self.bookings.get(id)?;
            let keep = q.organization_ids.contains(&b.organization_id)
                && q.room_id.is_none_or(|r| b.room_id == r)
                && q.site_ids
                    .as_ref()
                    .is_none_or(|sites| sites.contains(&b.site_id))
                && q.user_id.is_none_or(|u| b.user_id == u)
                && q.from.is_none_or(|from| b.end > from)
                && q.to.is_none_or(|to| b.start < to)
                && q.status.is_none_or(|s| b.status == s);
            keep.then_some((key, b))
        });
        page(
            rows,
            |key| q.after.is_some_and(|after| *key <= after),
            q.first,
            q.count_total,
        )
    }

    /// Whether `holder` is still stored with the status they were checked with: what the
    /// PostgreSQL store guards a booking's insert with (`FOR SHARE` on the holder's row).
    pub fn holder_unchanged(&self, holder: &User) -> bool {
        self.users
            .get(&holder.id)
            .is_some_and(|u| u.status == holder.status)
    }

    /// Inserts a series and its occurrences, all or none: none when a confirmed one would
    /// overlap another booking of its room or another occurrence.
    pub fn put_series(
        &mut self,
        series: &BookingSeries,
        bookings: &[Booking],
    ) -> StorageResult<()> {
        let clash = bookings.iter().enumerate().any(|(i, b)| {
            b.status == BookingStatus::Confirmed
                && (!self.room_overlaps(b.room_id, b.start, b.end).is_empty()
                    || bookings[..i].iter().any(|o| {
                        o.status == BookingStatus::Confirmed
                            && o.room_id == b.room_id
                            && o.overlaps(b.start, b.end)
                    }))
        });
        if clash {
            return Err(StorageError::Unique(UniqueKey::BookingOverlap));
        }
        for booking in bookings {
            self.put_booking(booking, false)?;
        }
        self.booking_series.insert(series.id, series.clone());
        self.series_bookings
            .insert(series.id, bookings.iter().map(|b| b.id).collect());
        Ok(())
    }

    /// Every occurrence of a series, by start.
    pub fn series_occurrences(&self, id: BookingSeriesId) -> Vec<Booking> {
        let mut found: Vec<Booking> = self
            .series_bookings
            .get(&id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|b| self.bookings.get(b))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        found.sort_by_key(|b| (b.start, b.id));
        found
    }

    /// Inserts or replaces a booking; a confirmed booking may not overlap another of its room.
    pub fn put_booking(&mut self, booking: &Booking, update: bool) -> StorageResult<()> {
        let previous = self.bookings.get(&booking.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other("booking insert/update mismatch".into()));
        }
        if booking.status == BookingStatus::Confirmed
            && self
                .room_overlaps(booking.room_id, booking.start, booking.end)
                .iter()
                .any(|other| other.id != booking.id)
        {
            return Err(StorageError::Unique(UniqueKey::BookingOverlap));
        }
        if let Some(old) = previous {
            self.bookings_by_start.remove(&(old.start, old.id));
            if let Some(index) = self.room_bookings.get_mut(&old.room_id) {
                index.remove(&(old.start, old.id));
            }
        }
        self.bookings_by_start
            .insert((booking.start, booking.id), booking.id);
        self.room_bookings
            .entry(booking.room_id)
            .or_default()
            .insert((booking.start, booking.id), booking.id);
        self.bookings.insert(booking.id, booking.clone());
        Ok(())
    }

    pub fn put_device(&mut self, device: &Device, update: bool) -> StorageResult<()> {
        let previous = self.devices.get(&device.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other("device insert/update mismatch".into()));
        }
        let token = device.token_hash.expose().to_owned();
        if self
            .device_tokens
            .get(&token)
            .is_some_and(|id| *id != device.id)
        {
            return Err(StorageError::Unique(UniqueKey::DeviceToken));
        }
        if let Some(old) = previous {
            self.device_tokens.remove(old.token_hash.expose());
        }
        self.device_tokens.insert(token, device.id);
        self.devices.insert(device.id, device.clone());
        Ok(())
    }
}

impl State {
    fn put_link_token(
        &mut self,
        hash: &str,
        target: LinkTarget,
        previous: Option<&str>,
    ) -> StorageResult<()> {
        if self.link_tokens.get(hash).is_some_and(|t| *t != target) {
            return Err(StorageError::Unique(UniqueKey::LinkToken));
        }
        if let Some(previous) = previous {
            self.link_tokens.remove(previous);
        }
        self.link_tokens.insert(hash.to_owned(), target);
        Ok(())
    }

    pub fn put_invitation(&mut self, invitation: &Invitation, update: bool) -> StorageResult<()> {
        let previous = self.invitations.get(&invitation.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other(
                "invitation insert/update mismatch".into(),
            ));
        }
        let old_hash = previous.as_ref().map(|p| p.token_hash.expose().to_owned());
        self.put_link_token(
            invitation.token_hash.expose(),
            LinkTarget::Invitation(invitation.id),
            old_hash.as_deref(),
        )?;
        self.invitations.insert(invitation.id, invitation.clone());
        Ok(())
    }

    pub fn put_password_reset(
        &mut self,
        reset: &PasswordResetToken,
        update: bool,
    ) -> StorageResult<()> {
        let previous = self.password_resets.get(&reset.id).cloned();
        if update != previous.is_some() {
            return Err(StorageError::Other(
                "password reset insert/update mismatch".into(),
            ));
        }
        let old_hash = previous.as_ref().map(|p| p.token_hash.expose().to_owned());
        self.put_link_token(
            reset.token_hash.expose(),
            LinkTarget::PasswordReset(reset.id),
            old_hash.as_deref(),
        )?;
        self.password_resets.insert(reset.id, reset.clone());
        Ok(())
    }

    pub fn claim_emails(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Vec<OutboundEmail> {
        let due: Vec<EmailId> = self
            .emails
            .values()
            .filter(|e| e.is_pending() && e.next_attempt_at <= now)
            .take(limit)
            .map(|e| e.id)
            .collect();
        due.into_iter()
            .filter_map(|id| {
                let email = self.emails.get_mut(&id)?;
                email.next_attempt_at = now + lease;
                Some(email.clone())
            })
            .collect()
    }
}
