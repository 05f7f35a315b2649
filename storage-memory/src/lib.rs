//! The storage traits kept in memory, for tests, demos and the server's default.
//!
//! Committed data is an immutable snapshot of persistent maps (`imbl`), so cloning it is O(1).
//! A transaction takes the single writer lock, works on its own copy of the snapshot, and commit
//! swaps that copy in: transactions are serialisable, readers never wait for writers, and a
//! dropped transaction leaves nothing behind. The writer lock is the "one critical section" that
//! makes checks such as booking overlap race-free on this backend.

mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{
    Locked, LockedResult, Reads, Storage, StorageResult, Transaction, Writes,
};
use concierge_domain::throttle::{AttemptCounter, Window};
use concierge_domain::values::Secret;
use tokio::sync::{Mutex, MutexGuard};

use state::State;

struct Inner {
    committed: RwLock<Arc<State>>,
    writer: Mutex<()>,
    /// Storage calls made, for tests that prove DataLoaders batch.
    calls: AtomicU64,
    events: tokio::sync::broadcast::Sender<BookingEvent>,
    /// The feed subscriptions listen to: booking events with their holder, and access-ended
    /// facts, in commit order.
    feed: tokio::sync::broadcast::Sender<FeedEvent>,
}

/// How many booking events a subscriber may lag behind before it is told to re-read.
pub const EVENT_BUFFER: usize = 4096;

impl Default for Inner {
    fn default() -> Self {
        Inner {
            committed: RwLock::default(),
            writer: Mutex::default(),
            calls: AtomicU64::default(),
            events: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
            feed: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

/// The in-memory store. Cloning it shares the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message of the outbox, oldest first (tests read what was sent).
    pub fn outbox(&self) -> Vec<OutboundEmail> {
        self.snapshot().emails.values().cloned().collect()
    }

    /// How many subscribers the booking-event feed has (tests wait on it).
    pub fn event_subscribers(&self) -> usize {
        self.inner.events.receiver_count() + self.inner.feed.receiver_count()
    }

    /// How many storage calls (reads and writes) have been made so far.
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Arc<State> {
        let guard = self
            .inner
            .committed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// A write transaction: the writer lock and a private copy of the data.
pub struct MemoryTransaction<'a> {
    store: &'a MemoryStore,
    working: State,
    /// Events and access-ended facts to deliver once committed, in the order published.
    events: Vec<Published>,
    _writer: MutexGuard<'a, ()>,
}

/// What a transaction published, delivered at its commit.
enum Published {
    Booking(BookingEvent),
    AccessEnded(AccessEnded),
}

/// Read access to a state, whichever holder it has.
trait View {
    fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R;
}

impl View for MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        f(&self.snapshot())
    }
}

impl View for MemoryTransaction<'_> {
    fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.store.inner.calls.fetch_add(1, Ordering::Relaxed);
        f(&self.working)
    }
}

/// `Reads` for both holders, written once.
macro_rules! impl_reads {
    ($($holder:ty),+) => {$(
        #[async_trait]
        impl Reads for $holder {
            async fn organization(&self, id: OrganizationId) -> StorageResult<Option<Organization>> {
                Ok(self.with(|s| s.organizations.get(&id).cloned()))
            }
            async fn organizations_by_ids(&self, ids: &[OrganizationId]) -> StorageResult<Vec<Organization>> {
                Ok(self.with(|s| state::by_ids(&s.organizations, ids)))
            }
            async fn organizations(&self, query: &OrganizationQuery) -> StorageResult<Page<Organization>> {
                Ok(self.with(|s| s.organizations_page(query)))
            }
            async fn platform_organization(&self) -> StorageResult<Option<Organization>> {
                Ok(self.with(|s| s.organizations.values().find(|o| o.kind == OrganizationKind::Platform).cloned()))
            }
            async fn profile(&self, id: ProfileId) -> StorageResult<Option<Profile>> {
                Ok(self.with(|s| s.profiles.get(&id).cloned()))
            }
            async fn profiles_by_ids(&self, ids: &[ProfileId]) -> StorageResult<Vec<Profile>> {
                Ok(self.with(|s| state::by_ids(&s.profiles, ids)))
            }
            async fn profiles_of(&self, organization_ids: &[OrganizationId]) -> StorageResult<Vec<Profile>> {
                Ok(self.with(|s| state::of_orgs(&s.profiles, organization_ids, |p| p.organization_id)))
            }
            async fn count_users_with_profile(&self, id: ProfileId) -> StorageResult<i64> {
                Ok(self.with(|s| s.users.values().filter(|u| u.profile_id == id).count() as i64))
            }
            async fn site(&self, id: SiteId) -> StorageResult<Option<Site>> {
                Ok(self.with(|s| s.sites.get(&id).cloned()))
            }
            async fn sites_by_ids(&self, ids: &[SiteId]) -> StorageResult<Vec<Site>> {
                Ok(self.with(|s| state::by_ids(&s.sites, ids)))
            }
            async fn sites(&self, query: &SiteQuery) -> StorageResult<Page<Site>> {
                Ok(self.with(|s| s.sites_page(query)))
            }
            async fn site_group(&self, id: SiteGroupId) -> StorageResult<Option<SiteGroup>> {
                Ok(self.with(|s| s.site_groups.get(&id).cloned()))
            }
            async fn site_groups_by_ids(&self, ids: &[SiteGroupId]) -> StorageResult<Vec<SiteGroup>> {
                Ok(self.with(|s| state::by_ids(&s.site_groups, ids)))
            }
            async fn site_groups_of(&self, organization_ids: &[OrganizationId]) -> StorageResult<Vec<SiteGroup>> {
                Ok(self.with(|s| state::of_orgs(&s.site_groups, organization_ids, |g| g.organization_id)))
            }
            async fn room(&self, id: RoomId) -> StorageResult<Option<Room>> {
                Ok(self.with(|s| s.rooms.get(&id).cloned()))
            }
            async fn room_for_booking(
                &self,
                id: RoomId,
                start: chrono::DateTime<chrono::Utc>,
                end: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Option<RoomForBooking>> {
                Ok(self.with(|s| {
                    let room = s.rooms.get(&id)?;
                    let site = s.sites.get(&room.site_id)?;
                    let overlapping = s.room_overlaps(id, start, end).iter().map(|b| b.id).collect();
                    Some(RoomForBooking { room: room.clone(), site: site.clone(), overlapping })
                }))
            }
            async fn rooms_by_ids(&self, ids: &[RoomId]) -> StorageResult<Vec<Room>> {
                Ok(self.with(|s| state::by_ids(&s.rooms, ids)))
            }
            async fn rooms_of_sites(&self, site_ids: &[SiteId]) -> StorageResult<Vec<Room>> {
                Ok(self.with(|s| s.rooms.values().filter(|r| site_ids.contains(&r.site_id)).cloned().collect()))
            }
            async fn sites_with_rooms(&self, site_ids: &[SiteId]) -> StorageResult<Vec<(Site, Vec<Room>)>> {
                Ok(self.with(|s| s.sites_with_rooms(site_ids)))
            }
            async fn price_list(&self, id: PriceListId) -> StorageResult<Option<PriceList>> {
                Ok(self.with(|s| s.price_lists.get(&id).cloned()))
            }
            async fn price_lists_by_ids(&self, ids: &[PriceListId]) -> StorageResult<Vec<PriceList>> {
                Ok(self.with(|s| state::by_ids(&s.price_lists, ids)))
            }
            async fn price_lists_of(&self, organization_ids: &[OrganizationId]) -> StorageResult<Vec<PriceList>> {
                Ok(self.with(|s| state::of_orgs(&s.price_lists, organization_ids, |p| p.organization_id)))
            }
            async fn user(&self, id: UserId) -> StorageResult<Option<User>> {
                Ok(self.with(|s| s.users.get(&id).cloned()))
            }
            async fn users_by_ids(&self, ids: &[UserId]) -> StorageResult<Vec<User>> {
                Ok(self.with(|s| state::by_ids(&s.users, ids)))
            }
            async fn user_by_login(&self, login: &str) -> StorageResult<Option<User>> {
                Ok(self.with(|s| s.logins.get(login).and_then(|id| s.users.get(id)).cloned()))
            }
            async fn users_and_profiles(&self, query: &UserQuery) -> StorageResult<(Page<User>, Vec<Profile>)> {
                Ok(self.with(|s| {
                    let page = s.users_page(query);
                    let profiles = if query.with_profiles {
                        let mut ids: Vec<ProfileId> = page.items.iter().map(|u| u.profile_id).collect();
                        ids.sort();
                        ids.dedup();
                        state::by_ids(&s.profiles, &ids)
                    } else {
                        Vec::new()
                    };
                    (page, profiles)
                }))
            }
            async fn logins_taken(&self, logins: &[String]) -> StorageResult<Vec<String>> {
                Ok(self.with(|s| logins.iter().filter(|l| s.logins.contains_key(*l)).cloned().collect()))
            }
            async fn booking_code_hashes_taken(&self, organization: OrganizationId, hashes: &[String]) -> StorageResult<Vec<String>> {
                Ok(self.with(|s| {
                    hashes
                        .iter()
                        .filter(|h| s.booking_codes.contains_key(&(organization, (*h).clone())))
                        .cloned()
                        .collect()
                }))
            }
            async fn user_by_booking_code(&self, organization: OrganizationId, hash: &str) -> StorageResult<Option<User>> {
                Ok(self.with(|s| {
                    s.booking_codes.get(&(organization, hash.to_owned())).and_then(|id| s.users.get(id)).cloned()
                }))
            }
            async fn session(&self, id: SessionId) -> StorageResult<Option<Session>> {
                Ok(self.with(|s| s.sessions.get(&id).cloned()))
            }
            async fn session_with_person(&self, id: SessionId) -> StorageResult<Option<SessionWithPerson>> {
                Ok(self.with(|s| {
                    let session = s.sessions.get(&id)?;
                    let user = s.users.get(&session.user_id)?;
                    Some(SessionWithPerson {
                        session: session.clone(),
                        user: user.clone(),
                        organization: s.organizations.get(&user.organization_id)?.clone(),
                        profile: s.profiles.get(&user.profile_id)?.clone(),
                        site_groups: state::by_ids(&s.site_groups, &user.site_group_ids),
                        second_factor_required: s.second_factor_required.get(&user.organization_id).copied().unwrap_or(false),
                        second_factor_confirmed: s.second_factors.get(&user.id).is_some_and(|f| f.confirmed_at.is_some()),
                    })
                }))
            }
            async fn session_by_token_hash(&self, hash: &str) -> StorageResult<Option<Session>> {
                Ok(self.with(|s| s.session_tokens.get(hash).and_then(|id| s.sessions.get(id)).cloned()))
            }
            async fn audit_events(&self, query: &AuditQuery) -> StorageResult<Page<AuditEvent>> {
                Ok(self.with(|s| s.audit_page(query)))
            }
            async fn booking(&self, id: BookingId) -> StorageResult<Option<Booking>> {
                Ok(self.with(|s| s.bookings.get(&id).cloned()))
            }
            async fn bookings_by_ids(&self, ids: &[BookingId]) -> StorageResult<Vec<Booking>> {
                Ok(self.with(|s| state::by_ids(&s.bookings, ids)))
            }
            async fn bookings(&self, query: &BookingQuery) -> StorageResult<Page<Booking>> {
                Ok(self.with(|s| s.bookings_page(query)))
            }
            async fn booking_series(&self, id: BookingSeriesId) -> StorageResult<Option<BookingSeries>> {
                Ok(self.with(|s| s.booking_series.get(&id).cloned()))
            }
            async fn booking_series_by_ids(&self, ids: &[BookingSeriesId]) -> StorageResult<Vec<BookingSeries>> {
                Ok(self.with(|s| state::by_ids(&s.booking_series, ids)))
            }
            async fn series_bookings(&self, id: BookingSeriesId) -> StorageResult<Vec<Booking>> {
                Ok(self.with(|s| s.series_occurrences(id)))
            }
            async fn room_bookings(
                &self,
                room: RoomId,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<Booking>> {
                Ok(self.with(|s| s.room_overlaps(room, from, to)))
            }
            async fn rooms_bookings(
                &self,
                rooms: &[RoomId],
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<Booking>> {
                Ok(self.with(|s| {
                    let mut found: Vec<Booking> =
                        rooms.iter().flat_map(|room| s.room_overlaps(*room, from, to)).collect();
                    found.sort_by_key(|b| (b.start, b.id));
                    found.dedup_by_key(|b| b.id);
                    found
                }))
            }
            async fn busy_rooms(
                &self,
                rooms: &[RoomId],
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> StorageResult<Vec<RoomId>> {
                Ok(self.with(|s| s.busy_rooms(rooms, from, to)))
            }
            async fn device(&self, id: DeviceId) -> StorageResult<Option<Device>> {
                Ok(self.with(|s| s.devices.get(&id).cloned()))
            }
            async fn invitation(&self, id: InvitationId) -> StorageResult<Option<Invitation>> {
                Ok(self.with(|s| s.invitations.get(&id).cloned()))
            }
            async fn invitation_by_token_hash(&self, hash: &str) -> StorageResult<Option<Invitation>> {
                Ok(self.with(|s| match s.link_tokens.get(hash) {
                    Some(state::LinkTarget::Invitation(id)) => s.invitations.get(id).cloned(),
                    _ => None,
                }))
            }
            async fn invitations(
                &self,
                organization_ids: &[OrganizationId],
                user_id: Option<UserId>,
            ) -> StorageResult<Vec<Invitation>> {
                Ok(self.with(|s| {
                    s.invitations
                        .values()
                        .filter(|i| organization_ids.contains(&i.organization_id) && user_id.is_none_or(|u| i.user_id == u))
                        .cloned()
                        .collect()
                }))
            }
            async fn password_reset_by_token_hash(&self, hash: &str) -> StorageResult<Option<PasswordResetToken>> {
                Ok(self.with(|s| match s.link_tokens.get(hash) {
                    Some(state::LinkTarget::PasswordReset(id)) => s.password_resets.get(id).cloned(),
                    _ => None,
                }))
            }
            async fn email(&self, id: EmailId) -> StorageResult<Option<OutboundEmail>> {
                Ok(self.with(|s| s.emails.get(&id).cloned()))
            }
            async fn pending_email_count(&self) -> StorageResult<i64> {
                Ok(self.with(|s| s.emails.values().filter(|e| e.is_pending()).count() as i64))
            }
            async fn second_factor(&self, user: UserId) -> StorageResult<Option<SecondFactor>> {
                Ok(self.with(|s| s.second_factors.get(&user).cloned()))
            }
            async fn second_factor_required(&self, organization: OrganizationId) -> StorageResult<bool> {
                Ok(self.with(|s| s.second_factor_required.get(&organization).copied().unwrap_or(false)))
            }
            async fn scim_token(&self, id: ScimTokenId) -> StorageResult<Option<ScimToken>> {
                Ok(self.with(|s| s.scim_tokens.get(&id).cloned()))
            }
            async fn scim_token_by_hash(&self, hash: &str) -> StorageResult<Option<ScimToken>> {
                Ok(self.with(|s| s.scim_tokens.values().find(|t| t.token_hash.expose() == hash).cloned()))
            }
            async fn scim_tokens_of(&self, organization: OrganizationId) -> StorageResult<Vec<ScimToken>> {
                Ok(self.with(|s| s.scim_tokens.values().filter(|t| t.organization_id == organization).cloned().collect()))
            }
            async fn sso_connection(&self, organization: OrganizationId) -> StorageResult<Option<SsoConnection>> {
                Ok(self.with(|s| s.sso_connections.get(&organization).cloned()))
            }
            async fn sso_identity(&self, issuer: &str, subject: &str) -> StorageResult<Option<SsoIdentity>> {
                Ok(self.with(|s| s.sso_identities.get(&(issuer.to_owned(), subject.to_owned())).cloned()))
            }
            async fn calendar_feed_by_hash(&self, hash: &str) -> StorageResult<Option<CalendarFeed>> {
                Ok(self.with(|s| s.calendar_feeds.values().find(|f| f.token_hash.expose() == hash).cloned()))
            }
            async fn calendar_feeds_of(&self, user: UserId) -> StorageResult<Vec<CalendarFeed>> {
                Ok(self.with(|s| s.calendar_feeds.values().filter(|f| f.user_id == user).cloned().collect()))
            }
            async fn sso_login_by_hash(&self, hash: &str) -> StorageResult<Option<SsoLogin>> {
                Ok(self.with(|s| s.sso_logins.values().find(|l| l.secret_hash.expose() == hash).cloned()))
            }
            async fn device_with_registrant(&self, hash: &str) -> StorageResult<Option<DeviceWithRegistrant>> {
                Ok(self.with(|s| {
                    let device = s.device_tokens.get(hash).and_then(|id| s.devices.get(id))?;
                    Some(DeviceWithRegistrant {
                        device: device.clone(),
                        registrant: s.users.get(&device.registered_by)?.clone(),
                        organization: s.organizations.get(&device.organization_id)?.clone(),
                    })
                }))
            }
            async fn device_by_token_hash(&self, hash: &str) -> StorageResult<Option<Device>> {
                Ok(self.with(|s| s.device_tokens.get(hash).and_then(|id| s.devices.get(id)).cloned()))
            }
        }
    )+};
}

impl_reads!(MemoryStore, MemoryTransaction<'_>);

impl MemoryTransaction<'_> {
    fn write(&mut self) -> &mut State {
        self.store.inner.calls.fetch_add(1, Ordering::Relaxed);
        &mut self.working
    }
}

/// A locking read of the memory backend: the transaction already holds the one writer lock, so
/// its own working copy is the latest state and nobody else can change it.
fn locked<T: Clone>(row: Option<&T>) -> Option<Locked<T>> {
    row.cloned().map(Locked::by_locking_read)
}

/// The rows of `ids` found in `map`, in id order (the order PostgreSQL locks them in).
fn locked_in_order<K: Ord + Copy, T: Clone>(map: &imbl::OrdMap<K, T>, ids: &[K]) -> Vec<Locked<T>> {
    let ids: std::collections::BTreeSet<K> = ids.iter().copied().collect();
    ids.iter()
        .filter_map(|id| map.get(id).cloned().map(Locked::by_locking_read))
        .collect()
}

#[async_trait]
impl Writes for MemoryTransaction<'_> {
    async fn lock_organization(&mut self, id: OrganizationId) -> LockedResult<Organization> {
        Ok(locked(self.write().organizations.get(&id)))
    }
    async fn lock_profile(&mut self, id: ProfileId) -> LockedResult<Profile> {
        Ok(locked(self.write().profiles.get(&id)))
    }
    async fn lock_site_group(&mut self, id: SiteGroupId) -> LockedResult<SiteGroup> {
        Ok(locked(self.write().site_groups.get(&id)))
    }
    async fn lock_site(&mut self, id: SiteId) -> LockedResult<Site> {
        Ok(locked(self.write().sites.get(&id)))
    }
    async fn lock_room(&mut self, id: RoomId) -> LockedResult<Room> {
        Ok(locked(self.write().rooms.get(&id)))
    }
    async fn lock_price_list(&mut self, id: PriceListId) -> LockedResult<PriceList> {
        Ok(locked(self.write().price_lists.get(&id)))
    }
    async fn lock_user(&mut self, id: UserId) -> LockedResult<User> {
        Ok(locked(self.write().users.get(&id)))
    }
    async fn lock_users(&mut self, ids: &[UserId]) -> StorageResult<Vec<Locked<User>>> {
        Ok(locked_in_order(&self.write().users, ids))
    }
    async fn lock_session(&mut self, id: SessionId) -> LockedResult<Session> {
        Ok(locked(self.write().sessions.get(&id)))
    }
    async fn lock_session_by_token_hash(&mut self, hash: &str) -> LockedResult<Session> {
        let state = self.write();
        Ok(locked(
            state
                .session_tokens
                .get(hash)
                .and_then(|id| state.sessions.get(id)),
        ))
    }
    async fn lock_device(&mut self, id: DeviceId) -> LockedResult<Device> {
        Ok(locked(self.write().devices.get(&id)))
    }
    async fn lock_invitations(
        &mut self,
        ids: &[InvitationId],
    ) -> StorageResult<Vec<Locked<Invitation>>> {
        Ok(locked_in_order(&self.write().invitations, ids))
    }
    async fn lock_invitation_by_token_hash(&mut self, hash: &str) -> LockedResult<Invitation> {
        let state = self.write();
        Ok(locked(match state.link_tokens.get(hash) {
            Some(state::LinkTarget::Invitation(id)) => state.invitations.get(id),
            _ => None,
        }))
    }
    async fn lock_password_reset_by_token_hash(
        &mut self,
        hash: &str,
    ) -> LockedResult<PasswordResetToken> {
        let state = self.write();
        Ok(locked(match state.link_tokens.get(hash) {
            Some(state::LinkTarget::PasswordReset(id)) => state.password_resets.get(id),
            _ => None,
        }))
    }
    async fn lock_bookings(&mut self, ids: &[BookingId]) -> StorageResult<Vec<Locked<Booking>>> {
        Ok(locked_in_order(&self.write().bookings, ids))
    }
    async fn lock_due_releases(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> StorageResult<Vec<Locked<Booking>>> {
        // One writer at a time: nothing is held by anyone else, nothing to skip.
        let state = self.write();
        let due: Vec<BookingId> = state.due_releases(now).into_iter().take(limit).collect();
        Ok(locked_in_order(&state.bookings, &due))
    }
    async fn insert_organization(&mut self, organization: &Organization) -> StorageResult<()> {
        self.write()
            .organizations
            .insert(organization.id, organization.clone());
        Ok(())
    }
    async fn update_organization(
        &mut self,
        organization: &Locked<Organization>,
    ) -> StorageResult<()> {
        state::replace(
            &mut self.write().organizations,
            organization.id,
            &**organization,
        )
    }
    async fn insert_profile(&mut self, profile: &Profile) -> StorageResult<()> {
        self.write().profiles.insert(profile.id, profile.clone());
        Ok(())
    }
    async fn update_profile(&mut self, profile: &Locked<Profile>) -> StorageResult<()> {
        state::replace(&mut self.write().profiles, profile.id, &**profile)
    }
    async fn delete_profile(&mut self, profile: Locked<Profile>) -> StorageResult<()> {
        self.write().profiles.remove(&profile.id);
        Ok(())
    }
    async fn insert_site(&mut self, site: &Site) -> StorageResult<()> {
        self.write().sites.insert(site.id, site.clone());
        Ok(())
    }
    async fn update_site(&mut self, site: &Locked<Site>) -> StorageResult<()> {
        state::replace(&mut self.write().sites, site.id, &**site)
    }
    async fn insert_site_group(&mut self, group: &SiteGroup) -> StorageResult<()> {
        self.write().site_groups.insert(group.id, group.clone());
        Ok(())
    }
    async fn update_site_group(&mut self, group: &Locked<SiteGroup>) -> StorageResult<()> {
        state::replace(&mut self.write().site_groups, group.id, &**group)
    }
    async fn insert_room(&mut self, room: &Room) -> StorageResult<()> {
        self.write().rooms.insert(room.id, room.clone());
        Ok(())
    }
    async fn update_room(&mut self, room: &Locked<Room>) -> StorageResult<()> {
        state::replace(&mut self.write().rooms, room.id, &**room)
    }
    async fn insert_price_list(&mut self, price_list: &PriceList) -> StorageResult<()> {
        self.write()
            .price_lists
            .insert(price_list.id, price_list.clone());
        Ok(())
    }
    async fn update_price_list(&mut self, price_list: &Locked<PriceList>) -> StorageResult<()> {
        state::replace(&mut self.write().price_lists, price_list.id, &**price_list)
    }
    async fn insert_user(&mut self, user: &User) -> StorageResult<()> {
        self.write().put_user(user, false)
    }
    async fn insert_users(&mut self, users: &[User]) -> StorageResult<()> {
        let state = self.write();
        for (done, user) in users.iter().enumerate() {
            if let Err(error) = state.put_user(user, false) {
                // All or none, as on PostgreSQL: the ones already in are new rows, taken out
                // again with their index entries.
                for inserted in &users[..done] {
                    state.users.remove(&inserted.id);
                    state.logins.retain(|_, id| *id != inserted.id);
                    state.booking_codes.retain(|_, id| *id != inserted.id);
                }
                return Err(error);
            }
        }
        Ok(())
    }
    async fn update_user(&mut self, user: &Locked<User>) -> StorageResult<()> {
        self.write().put_user(user, true)
    }
    async fn replace_booking_code_hash(
        &mut self,
        id: UserId,
        from: &Secret,
        to: &Secret,
    ) -> StorageResult<bool> {
        // Within the transaction's own copy, under the writer lock: nobody writes in between.
        let state = self.write();
        let Some(mut user) = state
            .users
            .get(&id)
            .filter(|u| u.booking_code_hash.as_ref() == Some(from))
            .cloned()
        else {
            return Ok(false);
        };
        user.booking_code_hash = Some(to.clone());
        state.put_user(&user, true)?;
        Ok(true)
    }
    async fn insert_session(&mut self, session: &Session) -> StorageResult<()> {
        self.write().put_session(session, false)
    }
    async fn update_session(&mut self, session: &Locked<Session>) -> StorageResult<()> {
        self.write().put_session(session, true)
    }
    async fn insert_audit_event(&mut self, event: &AuditEvent) -> StorageResult<()> {
        self.write().audit.insert(event.id, event.clone());
        Ok(())
    }
    async fn insert_booking(&mut self, booking: &Booking) -> StorageResult<()> {
        self.write().put_booking(booking, false)
    }
    async fn insert_booking_held_by(
        &mut self,
        booking: &Booking,
        holder: &User,
    ) -> StorageResult<bool> {
        let state = self.write();
        if !state.holder_unchanged(holder) {
            return Ok(false);
        }
        state.put_booking(booking, false)?;
        Ok(true)
    }
    async fn insert_booking_series_held_by(
        &mut self,
        series: &BookingSeries,
        bookings: &[Booking],
        holder: &User,
    ) -> StorageResult<bool> {
        let state = self.write();
        if !state.holder_unchanged(holder) {
            return Ok(false);
        }
        state.put_series(series, bookings)?;
        Ok(true)
    }
    async fn update_booking(&mut self, booking: &Locked<Booking>) -> StorageResult<()> {
        self.write().put_booking(booking, true)
    }
    async fn update_bookings(&mut self, bookings: &[Locked<Booking>]) -> StorageResult<()> {
        let state = self.write();
        // Checked as one write, like PostgreSQL's per-statement check: every booking leaves its
        // old slot first (written as not confirmed, which no overlap concerns), so that one may
        // take the slot another leaves.
        for booking in bookings {
            let vacated = Booking {
                status: BookingStatus::Cancelled,
                ..Booking::clone(booking)
            };
            state.put_booking(&vacated, true)?;
        }
        for booking in bookings {
            state.put_booking(booking, true)?;
        }
        Ok(())
    }
    async fn insert_device(&mut self, device: &Device) -> StorageResult<()> {
        self.write().put_device(device, false)
    }
    async fn update_device(&mut self, device: &Locked<Device>) -> StorageResult<()> {
        self.write().put_device(device, true)
    }
    async fn replace_device_token_hash(
        &mut self,
        id: DeviceId,
        from: &Secret,
        to: &Secret,
    ) -> StorageResult<bool> {
        let state = self.write();
        let Some(mut device) = state
            .devices
            .get(&id)
            .filter(|d| d.token_hash == *from)
            .cloned()
        else {
            return Ok(false);
        };
        device.token_hash = to.clone();
        state.put_device(&device, true)?;
        Ok(true)
    }
    async fn insert_invitation(&mut self, invitation: &Invitation) -> StorageResult<()> {
        self.write().put_invitation(invitation, false)
    }
    async fn update_invitation(&mut self, invitation: &Locked<Invitation>) -> StorageResult<()> {
        self.write().put_invitation(invitation, true)
    }
    async fn insert_password_reset(&mut self, reset: &PasswordResetToken) -> StorageResult<()> {
        self.write().put_password_reset(reset, false)
    }
    async fn update_password_reset(
        &mut self,
        reset: &Locked<PasswordResetToken>,
    ) -> StorageResult<()> {
        self.write().put_password_reset(reset, true)
    }
    async fn insert_email(&mut self, email: &OutboundEmail) -> StorageResult<()> {
        self.write().emails.insert(email.id, email.clone());
        Ok(())
    }
    async fn insert_emails(&mut self, emails: &[OutboundEmail]) -> StorageResult<()> {
        let state = self.write();
        for email in emails {
            state.emails.insert(email.id, email.clone());
        }
        Ok(())
    }
    async fn update_email(&mut self, email: &OutboundEmail) -> StorageResult<()> {
        state::replace(&mut self.write().emails, email.id, email)
    }
    async fn claim_emails(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> StorageResult<Vec<OutboundEmail>> {
        Ok(self.write().claim_emails(now, lease, limit))
    }
    async fn publish_booking_event(&mut self, event: &BookingEvent) -> StorageResult<()> {
        self.events.push(Published::Booking(event.clone()));
        Ok(())
    }
    async fn publish_access_ended(&mut self, fact: &AccessEnded) -> StorageResult<()> {
        self.events.push(Published::AccessEnded(*fact));
        Ok(())
    }

    async fn lock_second_factor(&mut self, user: UserId) -> LockedResult<SecondFactor> {
        Ok(locked(self.write().second_factors.get(&user)))
    }
    async fn insert_second_factor(&mut self, factor: &SecondFactor) -> StorageResult<bool> {
        let state = self.write();
        if state.second_factors.contains_key(&factor.user_id) {
            return Ok(false);
        }
        if !state.users.contains_key(&factor.user_id) {
            return Err(concierge_domain::storage::StorageError::MissingReference(
                concierge_domain::storage::Reference::User,
            ));
        }
        state.second_factors.insert(factor.user_id, factor.clone());
        Ok(true)
    }
    async fn update_second_factor(&mut self, factor: &Locked<SecondFactor>) -> StorageResult<()> {
        state::replace(&mut self.write().second_factors, factor.user_id, &**factor)
    }
    async fn delete_second_factor(&mut self, factor: Locked<SecondFactor>) -> StorageResult<()> {
        self.write().second_factors.remove(&factor.user_id);
        Ok(())
    }
    async fn set_second_factor_required(
        &mut self,
        organization: OrganizationId,
        required: bool,
    ) -> StorageResult<()> {
        let state = self.write();
        if !state.organizations.contains_key(&organization) {
            return Err(concierge_domain::storage::StorageError::MissingReference(
                concierge_domain::storage::Reference::Organization,
            ));
        }
        state.second_factor_required.insert(organization, required);
        Ok(())
    }

    async fn lock_scim_token(&mut self, id: ScimTokenId) -> LockedResult<ScimToken> {
        Ok(locked(self.write().scim_tokens.get(&id)))
    }
    async fn insert_scim_token(&mut self, token: &ScimToken) -> StorageResult<()> {
        use concierge_domain::storage::{Reference, StorageError};
        let state = self.write();
        if state.scim_tokens.contains_key(&token.id)
            || state
                .scim_tokens
                .values()
                .any(|t| t.token_hash == token.token_hash)
        {
            return Err(StorageError::Other("duplicate SCIM token".into()));
        }
        if !state.organizations.contains_key(&token.organization_id) {
            return Err(StorageError::MissingReference(Reference::Organization));
        }
        if !state.users.contains_key(&token.created_by) {
            return Err(StorageError::MissingReference(Reference::User));
        }
        state.scim_tokens.insert(token.id, token.clone());
        Ok(())
    }
    async fn update_scim_token(&mut self, token: &Locked<ScimToken>) -> StorageResult<()> {
        state::replace(&mut self.write().scim_tokens, token.id, &**token)
    }

    async fn lock_sso_connection(
        &mut self,
        organization: OrganizationId,
    ) -> LockedResult<SsoConnection> {
        Ok(locked(self.write().sso_connections.get(&organization)))
    }
    async fn insert_sso_connection(&mut self, connection: &SsoConnection) -> StorageResult<()> {
        use concierge_domain::storage::{Reference, StorageError, UniqueKey};
        let state = self.write();
        if state
            .sso_connections
            .contains_key(&connection.organization_id)
        {
            return Err(StorageError::Unique(UniqueKey::SsoConnection));
        }
        if !state
            .organizations
            .contains_key(&connection.organization_id)
        {
            return Err(StorageError::MissingReference(Reference::Organization));
        }
        state
            .sso_connections
            .insert(connection.organization_id, connection.clone());
        Ok(())
    }
    async fn update_sso_connection(
        &mut self,
        connection: &Locked<SsoConnection>,
    ) -> StorageResult<()> {
        let state = self.write();
        state::replace(
            &mut state.sso_connections,
            connection.organization_id,
            &**connection,
        )
    }
    async fn delete_sso_connection(
        &mut self,
        connection: Locked<SsoConnection>,
    ) -> StorageResult<()> {
        self.write()
            .sso_connections
            .remove(&connection.organization_id);
        Ok(())
    }
    async fn insert_sso_identity(&mut self, identity: &SsoIdentity) -> StorageResult<()> {
        use concierge_domain::storage::{Reference, StorageError, UniqueKey};
        let state = self.write();
        let key = (identity.issuer.clone(), identity.subject.clone());
        if state.sso_identities.contains_key(&key) {
            return Err(StorageError::Unique(UniqueKey::SsoIdentity));
        }
        if !state.users.contains_key(&identity.user_id) {
            return Err(StorageError::MissingReference(Reference::User));
        }
        state.sso_identities.insert(key, identity.clone());
        Ok(())
    }
    async fn insert_sso_login(&mut self, login: &SsoLogin) -> StorageResult<()> {
        use concierge_domain::storage::{Reference, StorageError};
        let state = self.write();
        if !state.organizations.contains_key(&login.organization_id) {
            return Err(StorageError::MissingReference(Reference::Organization));
        }
        state.sso_logins.insert(login.id, login.clone());
        Ok(())
    }
    async fn lock_sso_login_by_hash(&mut self, hash: &str) -> LockedResult<SsoLogin> {
        Ok(locked(
            self.write()
                .sso_logins
                .values()
                .find(|l| l.secret_hash.expose() == hash),
        ))
    }
    async fn update_sso_login(&mut self, login: &Locked<SsoLogin>) -> StorageResult<()> {
        state::replace(&mut self.write().sso_logins, login.id, &**login)
    }
    async fn delete_sso_login(&mut self, login: Locked<SsoLogin>) -> StorageResult<()> {
        self.write().sso_logins.remove(&login.id);
        Ok(())
    }
    async fn lock_calendar_feed(&mut self, id: CalendarFeedId) -> LockedResult<CalendarFeed> {
        Ok(locked(self.write().calendar_feeds.get(&id)))
    }
    async fn insert_calendar_feed(&mut self, feed: &CalendarFeed) -> StorageResult<()> {
        use concierge_domain::storage::{Reference, StorageError};
        let state = self.write();
        if !state.users.contains_key(&feed.user_id) {
            return Err(StorageError::MissingReference(Reference::User));
        }
        if feed
            .room_id
            .is_some_and(|room| !state.rooms.contains_key(&room))
        {
            return Err(StorageError::MissingReference(Reference::Room));
        }
        state.calendar_feeds.insert(feed.id, feed.clone());
        Ok(())
    }
    async fn update_calendar_feed(&mut self, feed: &Locked<CalendarFeed>) -> StorageResult<()> {
        state::replace(&mut self.write().calendar_feeds, feed.id, &**feed)
    }
    async fn sweep_sso_logins(
        &mut self,
        organization: OrganizationId,
        now: chrono::DateTime<chrono::Utc>,
        address: Option<&str>,
    ) -> StorageResult<PendingSsoLogins> {
        let state = self.write();
        let expired: Vec<SsoLoginId> = state
            .sso_logins
            .values()
            .filter(|l| l.organization_id == organization && l.expires_at < now)
            .map(|l| l.id)
            .collect();
        for id in expired {
            state.sso_logins.remove(&id);
        }
        let mut pending = PendingSsoLogins::default();
        for login in state.sso_logins.values() {
            if login.organization_id == organization {
                pending.total += 1;
                if address.is_some() && login.client_address.as_deref() == address {
                    pending.from_address += 1;
                }
            }
        }
        Ok(pending)
    }
}

#[async_trait]
impl Transaction for MemoryTransaction<'_> {
    async fn commit(self: Box<Self>) -> StorageResult<()> {
        let MemoryTransaction {
            store,
            working,
            events,
            _writer,
        } = *self;
        // Each booking event leaves with its holder as this transaction commits them (as the
        // PostgreSQL log records them), resolved here once for every subscriber.
        let resolved: Vec<FeedEvent> = events
            .iter()
            .map(|published| match published {
                Published::Booking(event) => FeedEvent::Booking(Arc::new(FeedBooking {
                    event: event.clone(),
                    holder: working
                        .users
                        .get(&event.booking.user_id)
                        .map(User::without_credentials),
                })),
                Published::AccessEnded(fact) => FeedEvent::AccessEnded(*fact),
            })
            .collect();
        {
            let mut committed = store
                .inner
                .committed
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *committed = Arc::new(working);
        }
        // Still under the writer lock: events leave in commit order. Nobody listening is fine.
        for (published, item) in events.into_iter().zip(resolved) {
            if let Published::Booking(event) = published {
                let _ = store.inner.events.send(event);
            }
            let _ = store.inner.feed.send(item);
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for MemoryStore {
    async fn begin(&self) -> StorageResult<Box<dyn Transaction + '_>> {
        let writer = self.inner.writer.lock().await;
        let working = State::clone(&self.snapshot());
        Ok(Box::new(MemoryTransaction {
            store: self,
            working,
            events: Vec::new(),
            _writer: writer,
        }))
    }

    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }

    fn booking_events(&self) -> tokio::sync::broadcast::Receiver<BookingEvent> {
        self.inner.events.subscribe()
    }

    fn feed(&self) -> tokio::sync::broadcast::Receiver<FeedEvent> {
        self.inner.feed.subscribe()
    }
}

/// Sliding-window attempt counters in memory (per process).
#[derive(Default)]
pub struct MemoryAttemptCounter {
    attempts: std::sync::Mutex<
        std::collections::HashMap<
            String,
            std::collections::VecDeque<chrono::DateTime<chrono::Utc>>,
        >,
    >,
}

impl MemoryAttemptCounter {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_key<R>(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
        f: impl FnOnce(&mut std::collections::VecDeque<chrono::DateTime<chrono::Utc>>) -> R,
    ) -> R {
        let mut map = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = map.entry(key.to_owned()).or_default();
        while entry.front().is_some_and(|t| *t <= now - window) {
            entry.pop_front();
        }
        f(entry)
    }
}

fn window_of(entry: &std::collections::VecDeque<chrono::DateTime<chrono::Utc>>) -> Window {
    Window {
        count: entry.len() as u32,
        oldest: entry.front().copied(),
    }
}

#[async_trait]
impl AttemptCounter for MemoryAttemptCounter {
    async fn record(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
    ) -> StorageResult<Window> {
        Ok(self.with_key(key, now, window, |entry| {
            entry.push_back(now);
            window_of(entry)
        }))
    }

    async fn peek(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
    ) -> StorageResult<Window> {
        Ok(self.with_key(key, now, window, |entry| window_of(entry)))
    }

    async fn forget_latest(&self, key: &str) -> StorageResult<()> {
        let mut map = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = map.get_mut(key) {
            entry.pop_back();
        }
        Ok(())
    }
}
