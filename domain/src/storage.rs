//! The storage traits. Backends only store: every rule (tenancy, permissions, uniqueness checked
//! up front, overlap) is decided by `crate::ops` before a write reaches them. Unique constraints in
//! a backend are the backstop for races and surface as [`StorageError::Unique`].
//!
//! Reads are on [`Reads`], implemented both by the store (committed data) and by a transaction
//! (its own writes included). Writes happen only inside a [`Transaction`], which commits all or
//! nothing; dropping one without `commit` rolls it back.
//!
//! A row that a transaction changes is first read through one of its locking reads (`lock_*`),
//! which returns it as [`Locked`]: the latest committed version, held against every other
//! writer until the transaction ends. The `update_*` writes take only a [`Locked`] row, so an
//! operation cannot write back a copy it read elsewhere (outside its transaction, or unlocked),
//! which is how a concurrent change would be silently undone. Locks are taken in the order of
//! `docs/architecture.md` ("Lock order") so that two transactions never wait on each other.

use async_trait::async_trait;

use crate::ids::*;
use crate::model::*;

/// A uniqueness rule a backend enforces under concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    /// Login e-mail, case-insensitive, across the installation.
    UserEmail,
    /// Username, case-insensitive, across the installation.
    UserUsername,
    /// Booking-code hash within an organization.
    BookingCode,
    /// Refresh-token hash.
    SessionToken,
    /// Two confirmed bookings of one room overlapping (PostgreSQL: the exclusion constraint).
    BookingOverlap,
    /// Device-token hash.
    DeviceToken,
    /// Invitation or password-reset token hash.
    LinkToken,
    /// A provider's account (`iss`, `sub`) linked to one person only.
    SsoIdentity,
    /// One identity provider per organization.
    SsoConnection,
}

/// A reference a backend checks: the row it names must exist (PostgreSQL: a foreign key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    Organization,
    Profile,
    Site,
    SiteGroup,
    Room,
    User,
    PriceList,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("unique constraint {0:?} violated")]
    Unique(UniqueKey),
    /// A written row names one that does not exist (any more): removed by a transaction that
    /// committed meanwhile.
    #[error("reference to a missing {0:?}")]
    MissingReference(Reference),
    /// The transaction collided with a concurrent one (PostgreSQL: a deadlock or a
    /// serialization failure) and was rolled back; running it again may succeed.
    #[error("concurrent transactions collided")]
    Contended,
    /// The backend cannot be reached (database down, pool exhausted).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Other(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

#[async_trait]
pub trait Reads: Send + Sync {
    async fn organization(&self, id: OrganizationId) -> StorageResult<Option<Organization>>;
    async fn organizations_by_ids(
        &self,
        ids: &[OrganizationId],
    ) -> StorageResult<Vec<Organization>>;
    async fn organizations(&self, query: &OrganizationQuery) -> StorageResult<Page<Organization>>;
    /// Whether any organization exists at all (bootstrap runs once).
    async fn platform_organization(&self) -> StorageResult<Option<Organization>>;

    async fn profile(&self, id: ProfileId) -> StorageResult<Option<Profile>>;
    async fn profiles_by_ids(&self, ids: &[ProfileId]) -> StorageResult<Vec<Profile>>;
    /// Every profile of these organizations, oldest first.
    async fn profiles_of(&self, organization_ids: &[OrganizationId])
    -> StorageResult<Vec<Profile>>;
    async fn count_users_with_profile(&self, id: ProfileId) -> StorageResult<i64>;

    async fn site(&self, id: SiteId) -> StorageResult<Option<Site>>;
    async fn sites_by_ids(&self, ids: &[SiteId]) -> StorageResult<Vec<Site>>;
    async fn sites(&self, query: &SiteQuery) -> StorageResult<Page<Site>>;

    async fn site_group(&self, id: SiteGroupId) -> StorageResult<Option<SiteGroup>>;
    async fn site_groups_by_ids(&self, ids: &[SiteGroupId]) -> StorageResult<Vec<SiteGroup>>;
    /// Every site group of these organizations, oldest first.
    async fn site_groups_of(
        &self,
        organization_ids: &[OrganizationId],
    ) -> StorageResult<Vec<SiteGroup>>;

    async fn room(&self, id: RoomId) -> StorageResult<Option<Room>>;
    /// The room with its site and the ids of its confirmed bookings overlapping
    /// `[start, end)`: everything booking it reads, in one read (one statement on PostgreSQL).
    async fn room_for_booking(
        &self,
        id: RoomId,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
    ) -> StorageResult<Option<RoomForBooking>>;
    async fn rooms_by_ids(&self, ids: &[RoomId]) -> StorageResult<Vec<Room>>;
    /// Every room of these sites, oldest first.
    async fn rooms_of_sites(&self, site_ids: &[SiteId]) -> StorageResult<Vec<Room>>;
    /// The sites of `site_ids` that exist, each with every room of it (by id), in one read (one
    /// statement on PostgreSQL): finding a room needs the site's time zone beside its rooms.
    async fn sites_with_rooms(&self, site_ids: &[SiteId]) -> StorageResult<Vec<(Site, Vec<Room>)>>;

    async fn price_list(&self, id: PriceListId) -> StorageResult<Option<PriceList>>;
    async fn price_lists_by_ids(&self, ids: &[PriceListId]) -> StorageResult<Vec<PriceList>>;
    /// Every price list of these organizations, oldest first.
    async fn price_lists_of(
        &self,
        organization_ids: &[OrganizationId],
    ) -> StorageResult<Vec<PriceList>>;

    async fn user(&self, id: UserId) -> StorageResult<Option<User>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> StorageResult<Vec<User>>;
    /// The user whose e-mail or username equals `login` (already lower-cased).
    async fn user_by_login(&self, login: &str) -> StorageResult<Option<User>>;
    async fn users(&self, query: &UserQuery) -> StorageResult<Page<User>> {
        Ok(self.users_and_profiles(query).await?.0)
    }
    /// A page of users and, when `query.with_profiles`, the profiles they hold (each once):
    /// read together (one statement on PostgreSQL).
    async fn users_and_profiles(
        &self,
        query: &UserQuery,
    ) -> StorageResult<(Page<User>, Vec<Profile>)>;
    /// Which of `logins` (lower-cased) are the e-mail or username of a user: one read for a
    /// whole import.
    async fn logins_taken(&self, logins: &[String]) -> StorageResult<Vec<String>>;
    /// Which of `hashes` are the booking-code hashes of users of `organization`.
    async fn booking_code_hashes_taken(
        &self,
        organization: OrganizationId,
        hashes: &[String],
    ) -> StorageResult<Vec<String>>;
    /// The user of `organization` whose booking-code hash is `hash`.
    async fn user_by_booking_code(
        &self,
        organization: OrganizationId,
        hash: &str,
    ) -> StorageResult<Option<User>>;

    async fn session(&self, id: SessionId) -> StorageResult<Option<Session>>;
    /// The session `id` with its user, their organization, profile and site groups, and the
    /// second-factor facts authentication needs: one read, whatever the rules then decide.
    async fn session_with_person(&self, id: SessionId) -> StorageResult<Option<SessionWithPerson>>;
    /// The session whose current or previous refresh-token hash is `hash`.
    async fn session_by_token_hash(&self, hash: &str) -> StorageResult<Option<Session>>;

    async fn audit_events(&self, query: &AuditQuery) -> StorageResult<Page<AuditEvent>>;

    async fn booking(&self, id: BookingId) -> StorageResult<Option<Booking>>;
    async fn bookings_by_ids(&self, ids: &[BookingId]) -> StorageResult<Vec<Booking>>;
    async fn bookings(&self, query: &BookingQuery) -> StorageResult<Page<Booking>>;
    async fn booking_series(&self, id: BookingSeriesId) -> StorageResult<Option<BookingSeries>>;
    async fn booking_series_by_ids(
        &self,
        ids: &[BookingSeriesId],
    ) -> StorageResult<Vec<BookingSeries>>;
    /// Every occurrence of a series (cancelled ones included), by start.
    async fn series_bookings(&self, id: BookingSeriesId) -> StorageResult<Vec<Booking>>;
    /// Every occurrence (cancelled ones included) of each of the series `ids`, by series then
    /// start: one read whatever the number of series (a series has at most
    /// [`crate::recurrence::MAX_OCCURRENCES`] occurrences). The default reads series by series,
    /// fine for a backend without round trips; PostgreSQL answers in one statement.
    async fn series_bookings_of(&self, ids: &[BookingSeriesId]) -> StorageResult<Vec<Booking>> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut found = Vec::new();
        for id in ids {
            found.extend(self.series_bookings(id).await?);
        }
        Ok(found)
    }
    /// Confirmed bookings of `room` overlapping `[from, to)`, by start.
    async fn room_bookings(
        &self,
        room: RoomId,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> StorageResult<Vec<Booking>>;
    /// Confirmed bookings of any of `rooms` overlapping `[from, to)`, by start: one statement
    /// on PostgreSQL whatever the number of rooms (a schedule of every room of a site).
    async fn rooms_bookings(
        &self,
        rooms: &[RoomId],
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> StorageResult<Vec<Booking>>;
    /// Which of `rooms` have a confirmed booking overlapping `[from, to)` (back-to-back does
    /// not overlap), each once, in no particular order. One statement on PostgreSQL whatever
    /// the number of rooms: the caller (the domain) chooses the rooms.
    async fn busy_rooms(
        &self,
        rooms: &[RoomId],
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> StorageResult<Vec<RoomId>>;

    async fn device(&self, id: DeviceId) -> StorageResult<Option<Device>>;
    async fn device_by_token_hash(&self, hash: &str) -> StorageResult<Option<Device>>;
    /// The device whose token hash is `hash`, with its registrant and the device's organization.
    async fn device_with_registrant(
        &self,
        hash: &str,
    ) -> StorageResult<Option<DeviceWithRegistrant>>;

    async fn invitation(&self, id: InvitationId) -> StorageResult<Option<Invitation>>;
    async fn invitation_by_token_hash(&self, hash: &str) -> StorageResult<Option<Invitation>>;
    /// Invitations of these organizations (optionally of one user), oldest first.
    async fn invitations(
        &self,
        organization_ids: &[OrganizationId],
        user_id: Option<UserId>,
    ) -> StorageResult<Vec<Invitation>>;

    async fn password_reset_by_token_hash(
        &self,
        hash: &str,
    ) -> StorageResult<Option<PasswordResetToken>>;

    async fn email(&self, id: EmailId) -> StorageResult<Option<OutboundEmail>>;
    /// How many messages wait for delivery (the outbox backlog): neither sent nor abandoned
    /// (see `OutboundEmail::is_pending`), due now or later.
    async fn pending_email_count(&self) -> StorageResult<i64>;

    /// The second factor of `user`, confirmed or not.
    async fn second_factor(&self, user: UserId) -> StorageResult<Option<SecondFactor>>;
    /// Whether `organization` requires a second factor of the people who manage users or
    /// clients (`false` until set).
    async fn second_factor_required(&self, organization: OrganizationId) -> StorageResult<bool>;

    async fn scim_token(&self, id: ScimTokenId) -> StorageResult<Option<ScimToken>>;
    /// The SCIM token (revoked or not) whose hash is `hash`.
    async fn scim_token_by_hash(&self, hash: &str) -> StorageResult<Option<ScimToken>>;
    /// Every SCIM token of `organization`, revoked ones included, oldest first.
    async fn scim_tokens_of(&self, organization: OrganizationId) -> StorageResult<Vec<ScimToken>>;

    /// The organization's OpenID Connect provider, if it has one.
    async fn sso_connection(
        &self,
        organization: OrganizationId,
    ) -> StorageResult<Option<SsoConnection>>;
    /// The link of a provider's account (`iss`, `sub`) to a person.
    async fn sso_identity(&self, issuer: &str, subject: &str)
    -> StorageResult<Option<SsoIdentity>>;
    /// The sign-in through a provider whose current secret hashes to `hash`.
    async fn sso_login_by_hash(&self, hash: &str) -> StorageResult<Option<SsoLogin>>;

    /// The calendar feed (revoked or not) whose token hashes to `hash`.
    async fn calendar_feed_by_hash(&self, hash: &str) -> StorageResult<Option<CalendarFeed>>;
    /// Every calendar feed of `user`, revoked ones included, oldest first.
    async fn calendar_feeds_of(&self, user: UserId) -> StorageResult<Vec<CalendarFeed>>;
}

/// A row read by a locking read of a transaction (see the module's documentation): the latest
/// committed version, which no other transaction can change until this one ends. It derefs to
/// the row; change it in place and hand it back to the matching `update_*`.
///
/// Deliberately not `Clone`: a copy could outlive its transaction and be written by another.
#[derive(Debug, PartialEq, Eq)]
pub struct Locked<T>(T);

impl<T> Locked<T> {
    /// For storage backends only: `row` was just read, and locked, by the transaction that
    /// returns it.
    pub fn by_locking_read(row: T) -> Self {
        Locked(row)
    }

    /// The row, no longer to be written back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Locked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Locked<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

pub type LockedResult<T> = StorageResult<Option<Locked<T>>>;

#[async_trait]
pub trait Writes: Reads {
    // Locking reads, in lock order (docs/architecture.md, "Lock order"): organizations,
    // profiles, site groups, sites, rooms, price lists, invitations and password resets, users,
    // sessions, devices, bookings. Each waits for a concurrent holder of the row to finish and returns the row as
    // then committed (or as this transaction wrote it). The `…s(ids)` forms lock in id order.
    async fn lock_organization(&mut self, id: OrganizationId) -> LockedResult<Organization>;
    async fn lock_profile(&mut self, id: ProfileId) -> LockedResult<Profile>;
    async fn lock_site_group(&mut self, id: SiteGroupId) -> LockedResult<SiteGroup>;
    async fn lock_site(&mut self, id: SiteId) -> LockedResult<Site>;
    async fn lock_room(&mut self, id: RoomId) -> LockedResult<Room>;
    async fn lock_price_list(&mut self, id: PriceListId) -> LockedResult<PriceList>;
    async fn lock_user(&mut self, id: UserId) -> LockedResult<User>;
    async fn lock_users(&mut self, ids: &[UserId]) -> StorageResult<Vec<Locked<User>>>;
    async fn lock_session(&mut self, id: SessionId) -> LockedResult<Session>;
    /// The session whose current or previous refresh-token hash is `hash`, locked.
    async fn lock_session_by_token_hash(&mut self, hash: &str) -> LockedResult<Session>;
    async fn lock_device(&mut self, id: DeviceId) -> LockedResult<Device>;
    async fn lock_invitations(
        &mut self,
        ids: &[InvitationId],
    ) -> StorageResult<Vec<Locked<Invitation>>>;
    async fn lock_invitation_by_token_hash(&mut self, hash: &str) -> LockedResult<Invitation>;
    async fn lock_password_reset_by_token_hash(
        &mut self,
        hash: &str,
    ) -> LockedResult<PasswordResetToken>;
    async fn lock_bookings(&mut self, ids: &[BookingId]) -> StorageResult<Vec<Locked<Booking>>>;
    /// Up to `limit` confirmed bookings not checked in whose `release_at` is at or before `now`
    /// and whose end is after it, locked, in id order. Rows another transaction holds are
    /// skipped, not waited for (PostgreSQL: `FOR UPDATE SKIP LOCKED`): concurrent release
    /// passes (one per replica) share the due bookings out instead of queueing on them.
    async fn lock_due_releases(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> StorageResult<Vec<Locked<Booking>>>;

    async fn insert_organization(&mut self, organization: &Organization) -> StorageResult<()>;
    async fn update_organization(
        &mut self,
        organization: &Locked<Organization>,
    ) -> StorageResult<()>;

    async fn insert_profile(&mut self, profile: &Profile) -> StorageResult<()>;
    async fn update_profile(&mut self, profile: &Locked<Profile>) -> StorageResult<()>;
    async fn delete_profile(&mut self, profile: Locked<Profile>) -> StorageResult<()>;

    async fn insert_site(&mut self, site: &Site) -> StorageResult<()>;
    async fn update_site(&mut self, site: &Locked<Site>) -> StorageResult<()>;

    async fn insert_site_group(&mut self, group: &SiteGroup) -> StorageResult<()>;
    async fn update_site_group(&mut self, group: &Locked<SiteGroup>) -> StorageResult<()>;

    async fn insert_room(&mut self, room: &Room) -> StorageResult<()>;
    async fn update_room(&mut self, room: &Locked<Room>) -> StorageResult<()>;

    async fn insert_price_list(&mut self, price_list: &PriceList) -> StorageResult<()>;
    async fn update_price_list(&mut self, price_list: &Locked<PriceList>) -> StorageResult<()>;

    async fn insert_user(&mut self, user: &User) -> StorageResult<()>;
    /// Inserts several new users (with their site grants) at once: all of them or, when one
    /// fails as `insert_user` would (`Unique` on a login or booking code, a missing reference),
    /// none of them, the transaction still usable. A few statements on PostgreSQL whatever their
    /// number (bulk import).
    async fn insert_users(&mut self, users: &[User]) -> StorageResult<()>;
    async fn update_user(&mut self, user: &Locked<User>) -> StorageResult<()>;
    /// Sets the booking-code hash of user `id` to `to`, only if it still is `from`, and changes
    /// nothing else of the row; `true` if it did. For re-hashing a code under the current pepper
    /// during a rotation: a whole-row `update_user` of a copy read earlier would overwrite a
    /// deactivation (or any change) committed meanwhile. `false` means someone else changed the
    /// code first (reset, or already re-hashed). `Unique(BookingCode)` if `to` is taken.
    async fn replace_booking_code_hash(
        &mut self,
        id: UserId,
        from: &crate::values::Secret,
        to: &crate::values::Secret,
    ) -> StorageResult<bool>;

    async fn insert_session(&mut self, session: &Session) -> StorageResult<()>;
    async fn update_session(&mut self, session: &Locked<Session>) -> StorageResult<()>;

    async fn insert_audit_event(&mut self, event: &AuditEvent) -> StorageResult<()>;

    /// Fails with `Unique(BookingOverlap)` when a confirmed booking of the room overlaps.
    async fn insert_booking(&mut self, booking: &Booking) -> StorageResult<()>;
    /// Inserts `booking` only while its holder's status is still `holder.status`, and keeps
    /// the holder's row from changing until the transaction ends (a compare-and-set on the
    /// holder, so a concurrent deactivation either sees the booking or is seen by it); `false`,
    /// with nothing written, when the holder changed. One statement on PostgreSQL.
    async fn insert_booking_held_by(
        &mut self,
        booking: &Booking,
        holder: &User,
    ) -> StorageResult<bool>;
    /// Inserts a series and its occurrences (each naming it), like `insert_booking_held_by`:
    /// only while the holder's status is still `holder.status` (`false`, nothing written,
    /// otherwise), holding the holder's row until the transaction ends. All of them or none:
    /// `Unique(BookingOverlap)` when an occurrence overlaps a confirmed booking (the
    /// transaction is then to be dropped). One statement on PostgreSQL whatever the number of
    /// occurrences.
    async fn insert_booking_series_held_by(
        &mut self,
        series: &BookingSeries,
        bookings: &[Booking],
        holder: &User,
    ) -> StorageResult<bool>;
    /// Fails with `Unique(BookingOverlap)` when the new range overlaps another confirmed booking.
    async fn update_booking(&mut self, booking: &Locked<Booking>) -> StorageResult<()>;
    /// Writes several locked bookings at once: one statement on PostgreSQL whatever their
    /// number. Fails with `Unique(BookingOverlap)` as `update_booking` does, the overlap rule
    /// applying to the result of the whole write (one booking may take the slot another leaves).
    async fn update_bookings(&mut self, bookings: &[Locked<Booking>]) -> StorageResult<()>;

    async fn insert_device(&mut self, device: &Device) -> StorageResult<()>;
    async fn update_device(&mut self, device: &Locked<Device>) -> StorageResult<()>;
    /// Sets the token hash of device `id` to `to`, only if it still is `from`, and changes
    /// nothing else of the row; `true` if it did. For re-hashing a token under the current
    /// pepper during a rotation: a whole-row `update_device` of a copy read earlier would undo a
    /// revocation committed meanwhile. `false` means someone else changed the token first.
    /// `Unique(DeviceToken)` if `to` is taken.
    async fn replace_device_token_hash(
        &mut self,
        id: DeviceId,
        from: &crate::values::Secret,
        to: &crate::values::Secret,
    ) -> StorageResult<bool>;

    async fn insert_invitation(&mut self, invitation: &Invitation) -> StorageResult<()>;
    async fn update_invitation(&mut self, invitation: &Locked<Invitation>) -> StorageResult<()>;

    async fn insert_password_reset(&mut self, reset: &PasswordResetToken) -> StorageResult<()>;
    async fn update_password_reset(
        &mut self,
        reset: &Locked<PasswordResetToken>,
    ) -> StorageResult<()>;

    /// Puts a message in the outbox; it leaves only if the transaction commits.
    async fn insert_email(&mut self, email: &OutboundEmail) -> StorageResult<()>;
    /// Several messages at once (one statement on PostgreSQL): bulk import.
    async fn insert_emails(&mut self, emails: &[OutboundEmail]) -> StorageResult<()>;
    async fn update_email(&mut self, email: &OutboundEmail) -> StorageResult<()>;
    /// Claims up to `limit` pending messages (neither sent nor abandoned) due at `now` (oldest
    /// first) for one delivery attempt: each is returned with `next_attempt_at` moved to
    /// `now + lease`, so that another worker (or replica) does not send it too unless this one
    /// fails to report back. An abandoned message is never claimed, whatever its
    /// `next_attempt_at`.
    async fn claim_emails(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> StorageResult<Vec<OutboundEmail>>;

    /// Queues an event for every subscriber of every server on this storage. It is delivered
    /// once the transaction commits, in commit order, and never if it rolls back.
    async fn publish_booking_event(&mut self, event: &BookingEvent) -> StorageResult<()>;

    /// Queues a fact that may end some subscribers' access, on the same feed as the booking
    /// events ([`Storage::feed`]): delivered once the transaction commits, in commit order,
    /// never if it rolls back.
    async fn publish_access_ended(&mut self, fact: &AccessEnded) -> StorageResult<()>;

    /// The second factor of `user`, locked (lock order: after the user).
    async fn lock_second_factor(&mut self, user: UserId) -> LockedResult<SecondFactor>;
    /// Inserts a second factor; `false` (and nothing written) when the user has one already.
    async fn insert_second_factor(&mut self, factor: &SecondFactor) -> StorageResult<bool>;
    async fn update_second_factor(&mut self, factor: &Locked<SecondFactor>) -> StorageResult<()>;
    async fn delete_second_factor(&mut self, factor: Locked<SecondFactor>) -> StorageResult<()>;
    /// Sets the organization's second-factor rule (lock the organization first).
    async fn set_second_factor_required(
        &mut self,
        organization: OrganizationId,
        required: bool,
    ) -> StorageResult<()>;

    /// A SCIM token, locked (lock order: after devices).
    async fn lock_scim_token(&mut self, id: ScimTokenId) -> LockedResult<ScimToken>;
    async fn insert_scim_token(&mut self, token: &ScimToken) -> StorageResult<()>;
    async fn update_scim_token(&mut self, token: &Locked<ScimToken>) -> StorageResult<()>;

    /// The organization's provider, locked (lock order: after the organization).
    async fn lock_sso_connection(
        &mut self,
        organization: OrganizationId,
    ) -> LockedResult<SsoConnection>;
    async fn insert_sso_connection(&mut self, connection: &SsoConnection) -> StorageResult<()>;
    async fn update_sso_connection(
        &mut self,
        connection: &Locked<SsoConnection>,
    ) -> StorageResult<()>;
    async fn delete_sso_connection(
        &mut self,
        connection: Locked<SsoConnection>,
    ) -> StorageResult<()>;
    /// Links a provider's account to a person; `Unique` when that account is linked already.
    async fn insert_sso_identity(&mut self, identity: &SsoIdentity) -> StorageResult<()>;
    async fn insert_sso_login(&mut self, login: &SsoLogin) -> StorageResult<()>;
    /// The sign-in whose current secret hashes to `hash`, locked (lock order: last).
    async fn lock_sso_login_by_hash(&mut self, hash: &str) -> LockedResult<SsoLogin>;
    async fn update_sso_login(&mut self, login: &Locked<SsoLogin>) -> StorageResult<()>;
    async fn delete_sso_login(&mut self, login: Locked<SsoLogin>) -> StorageResult<()>;
    /// Deletes the sign-ins of `organization` that expired before `now` (never finished) and
    /// counts the others: all of them, and those started from `address`.
    async fn sweep_sso_logins(
        &mut self,
        organization: OrganizationId,
        now: chrono::DateTime<chrono::Utc>,
        address: Option<&str>,
    ) -> StorageResult<PendingSsoLogins>;
    /// A calendar feed, locked (lock order: with devices and SCIM tokens, alone).
    async fn lock_calendar_feed(&mut self, id: CalendarFeedId) -> LockedResult<CalendarFeed>;
    async fn insert_calendar_feed(&mut self, feed: &CalendarFeed) -> StorageResult<()>;
    async fn update_calendar_feed(&mut self, feed: &Locked<CalendarFeed>) -> StorageResult<()>;
}

/// A unit of work: everything written through it is committed together or not at all.
#[async_trait]
pub trait Transaction: Writes {
    async fn commit(self: Box<Self>) -> StorageResult<()>;
}

#[async_trait]
pub trait Storage: Reads {
    async fn begin(&self) -> StorageResult<Box<dyn Transaction + '_>>;
    /// Answers when the backend is reachable (`/readyz`).
    async fn ping(&self) -> StorageResult<()>;

    /// The committed booking events, from now on. A receiver that falls too far behind gets
    /// `Lagged` and should re-read what it shows.
    fn booking_events(&self) -> tokio::sync::broadcast::Receiver<BookingEvent>;

    /// The committed feed, from now on: every booking event as committed with its holder
    /// (resolved once per server, whatever the number of subscribers) and every fact that
    /// may end someone's access, in commit order. A receiver that falls too far behind gets
    /// `Lagged`.
    fn feed(&self) -> tokio::sync::broadcast::Receiver<FeedEvent>;

    /// Whether the feed is connected right now (always, in memory; PostgreSQL: the listener
    /// holds a working connection). A subscriber may trust that it hears of every access-ended
    /// fact only while it is.
    fn feed_connected(&self) -> bool {
        true
    }

    /// The connection pool's state, for `/metrics`; `None` for a backend without a pool.
    fn pool_usage(&self) -> Option<PoolUsage> {
        None
    }
}

/// A snapshot of a connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// The most connections the pool may open.
    pub max: usize,
    /// Connections open now, idle or in use.
    pub open: usize,
    /// Open connections waiting to be used.
    pub idle: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}
