//! A unit of work: one pooled connection inside a SQL transaction.
//!
//! Committing ends the transaction and returns the connection to the pool. Dropping without
//! committing rolls back: on a tokio runtime a task sends ROLLBACK and then returns the
//! connection; without a runtime, or when the rollback fails, the connection is detached from the
//! pool and closed, which ends the transaction on the server. Either way a pooled connection is
//! never handed out again while inside a transaction (diesel-async's pool also refuses to
//! recycle one whose transaction manager is still open or was interrupted mid-statement).
//!
//! After a failed statement PostgreSQL refuses everything but ROLLBACK, and answers COMMIT by
//! rolling back without an error. The writes that can break a unique key (users, sessions) run
//! in a savepoint, so that, as on the memory backend, the unit of work survives the violation
//! and may go on. Any other failure is remembered, and the commit first checks that the
//! transaction can still commit, so that a rolled-back commit is never taken for a success.
//! Bookings (the no-overlap exclusion constraint), devices, invitations and password resets
//! (their token hashes) run in a savepoint too.
//!
//! Booking events are queued and written with the commit: appended to `booking_events` and
//! NOTIFYed as the transaction's last statements (see `queries::booking_events::append`), so
//! every server's listener receives them once committed, in commit order, and never on rollback.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{
    Locked, LockedResult, StorageError, StorageResult, Transaction, Writes,
};
use concierge_domain::values::Secret;
use diesel_async::{AnsiTransactionManager, SimpleAsyncConnection as _, TransactionManager as _};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::errors::from_diesel;
use crate::queries::booking_series;
use crate::queries::single_sign_on as sso;
use crate::queries::{
    audit, booking_events, bookings, devices, emails, invitations, organizations, password_resets,
    price_lists, profiles, rooms, sessions, site_groups, sites, users,
};
use crate::reads::impl_reads;
use crate::rows::Label as _;
use crate::store::PooledConnection;

pub(crate) struct PgTransaction {
    /// `Reads` takes `&self` while a query needs `&mut` on the connection: the mutex gives that
    /// (uncontended: a transaction is used by one task at a time). `None` once committed.
    conn: Mutex<Option<PooledConnection>>,
    /// Some call failed: the server may have aborted the transaction.
    failed: AtomicBool,
    /// Booking events and access-ended facts to append and notify with the commit.
    events: Vec<booking_events::Pending>,
    /// Audit events, written with the commit by the statement of its first booking event (or
    /// one of their own), or earlier if the transaction reads the log itself.
    audits: std::sync::Mutex<Vec<AuditEvent>>,
    /// Outbox messages, written likewise (a booking's e-mail costs no statement of its own),
    /// or earlier if the transaction reads the outbox itself.
    emails: std::sync::Mutex<Vec<OutboundEmail>>,
}

impl PgTransaction {
    pub(crate) async fn begin(mut conn: PooledConnection) -> StorageResult<PgTransaction> {
        AnsiTransactionManager::begin_transaction(&mut *conn)
            .await
            .map_err(from_diesel)?;
        Ok(PgTransaction {
            conn: Mutex::new(Some(conn)),
            failed: AtomicBool::new(false),
            events: Vec::new(),
            audits: std::sync::Mutex::new(Vec::new()),
            emails: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn pending_audits(&self) -> std::sync::MutexGuard<'_, Vec<AuditEvent>> {
        // A poisoned lock only means a panic elsewhere; the events are still a plain list.
        self.audits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the audit events queued so far (before a read of the log by this transaction).
    async fn write_pending_audits(&self) -> StorageResult<()> {
        let pending = std::mem::take(&mut *self.pending_audits());
        if pending.is_empty() {
            return Ok(());
        }
        let result =
            audit::insert_all(&mut *self.conn().await?, audit::AuditColumns::of(&pending)).await;
        self.observe(result)
    }

    fn pending_emails(&self) -> std::sync::MutexGuard<'_, Vec<OutboundEmail>> {
        self.emails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the messages queued so far (before a read of the outbox by this transaction).
    async fn write_pending_emails(&self) -> StorageResult<()> {
        let pending = std::mem::take(&mut *self.pending_emails());
        if pending.is_empty() {
            return Ok(());
        }
        let result = emails::insert_many(&mut *self.conn().await?, &pending).await;
        self.observe(result)
    }

    fn observe<T>(&self, result: StorageResult<T>) -> StorageResult<T> {
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    async fn conn(&self) -> StorageResult<MappedMutexGuard<'_, PooledConnection>> {
        MutexGuard::try_map(self.conn.lock().await, Option::as_mut).map_err(|_| finished())
    }

    fn conn_mut(&mut self) -> StorageResult<&mut PooledConnection> {
        self.conn.get_mut().as_mut().ok_or_else(finished)
    }
}

/// Runs `$write(conn, $value...)` inside a savepoint, kept on success and undone on failure.
macro_rules! in_savepoint {
    ($conn:expr, $write:path, $($value:expr),+) => {{
        let conn: &mut PooledConnection = $conn;
        match AnsiTransactionManager::begin_transaction(&mut **conn).await {
            Ok(()) => {
                let result = $write(&mut **conn, $($value),+).await;
                release_savepoint(conn, result).await
            }
            Err(error) => Err(from_diesel(error)),
        }
    }};
}

/// Ends the savepoint opened by `in_savepoint!`: keeps its work when `result` is a success.
async fn release_savepoint<T>(
    conn: &mut PooledConnection,
    result: StorageResult<T>,
) -> StorageResult<T> {
    match result {
        Ok(value) => AnsiTransactionManager::commit_transaction(&mut **conn)
            .await
            .map(|()| value)
            .map_err(from_diesel),
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(&mut **conn)
                .await
                .map_err(from_diesel)?;
            Err(error)
        }
    }
}

/// A row just read by a `… FOR UPDATE` of this transaction.
fn locked<T>(row: Option<T>) -> Option<Locked<T>> {
    row.map(Locked::by_locking_read)
}

fn all_locked<T>(rows: Vec<T>) -> Vec<Locked<T>> {
    rows.into_iter().map(Locked::by_locking_read).collect()
}

fn finished() -> StorageError {
    StorageError::Other("the transaction is already finished".into())
}

impl_reads!(PgTransaction);

#[async_trait]
impl Writes for PgTransaction {
    async fn lock_organization(&mut self, id: OrganizationId) -> LockedResult<Organization> {
        let result = organizations::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_profile(&mut self, id: ProfileId) -> LockedResult<Profile> {
        let result = profiles::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_site_group(&mut self, id: SiteGroupId) -> LockedResult<SiteGroup> {
        let result = site_groups::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_site(&mut self, id: SiteId) -> LockedResult<Site> {
        let result = sites::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_room(&mut self, id: RoomId) -> LockedResult<Room> {
        let result = rooms::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_price_list(&mut self, id: PriceListId) -> LockedResult<PriceList> {
        let result = price_lists::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_user(&mut self, id: UserId) -> LockedResult<User> {
        let result = users::lock(self.conn_mut()?, &[id]).await;
        self.observe(result)
            .map(|found| locked(found.into_iter().next()))
    }
    async fn lock_users(&mut self, ids: &[UserId]) -> StorageResult<Vec<Locked<User>>> {
        let result = users::lock(self.conn_mut()?, ids).await;
        self.observe(result).map(all_locked)
    }
    async fn lock_session(&mut self, id: SessionId) -> LockedResult<Session> {
        let result = sessions::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_session_by_token_hash(&mut self, hash: &str) -> LockedResult<Session> {
        let result = sessions::lock_by_token_hash(self.conn_mut()?, hash).await;
        self.observe(result).map(locked)
    }
    async fn lock_device(&mut self, id: DeviceId) -> LockedResult<Device> {
        let result = devices::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn lock_invitations(
        &mut self,
        ids: &[InvitationId],
    ) -> StorageResult<Vec<Locked<Invitation>>> {
        let result = invitations::lock(self.conn_mut()?, ids).await;
        self.observe(result).map(all_locked)
    }
    async fn lock_invitation_by_token_hash(&mut self, hash: &str) -> LockedResult<Invitation> {
        let result = invitations::lock_by_token_hash(self.conn_mut()?, hash).await;
        self.observe(result).map(locked)
    }
    async fn lock_password_reset_by_token_hash(
        &mut self,
        hash: &str,
    ) -> LockedResult<PasswordResetToken> {
        let result = password_resets::lock_by_token_hash(self.conn_mut()?, hash).await;
        self.observe(result).map(locked)
    }
    async fn lock_bookings(&mut self, ids: &[BookingId]) -> StorageResult<Vec<Locked<Booking>>> {
        let result = bookings::lock(self.conn_mut()?, ids).await;
        self.observe(result).map(all_locked)
    }
    async fn lock_due_releases(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> StorageResult<Vec<Locked<Booking>>> {
        let result = bookings::lock_due_releases(self.conn_mut()?, now, limit).await;
        self.observe(result).map(all_locked)
    }

    async fn insert_organization(&mut self, organization: &Organization) -> StorageResult<()> {
        let result = organizations::insert(self.conn_mut()?, organization).await;
        self.observe(result)
    }
    async fn update_organization(
        &mut self,
        organization: &Locked<Organization>,
    ) -> StorageResult<()> {
        let result = organizations::update(self.conn_mut()?, organization).await;
        self.observe(result)
    }

    async fn insert_profile(&mut self, profile: &Profile) -> StorageResult<()> {
        let result = profiles::insert(self.conn_mut()?, profile).await;
        self.observe(result)
    }
    async fn update_profile(&mut self, profile: &Locked<Profile>) -> StorageResult<()> {
        let result = profiles::update(self.conn_mut()?, profile).await;
        self.observe(result)
    }
    async fn delete_profile(&mut self, profile: Locked<Profile>) -> StorageResult<()> {
        let result = profiles::delete(self.conn_mut()?, profile.id).await;
        self.observe(result)
    }

    async fn insert_site(&mut self, site: &Site) -> StorageResult<()> {
        let result = sites::insert(self.conn_mut()?, site).await;
        self.observe(result)
    }
    async fn update_site(&mut self, site: &Locked<Site>) -> StorageResult<()> {
        let result = sites::update(self.conn_mut()?, site).await;
        self.observe(result)
    }

    async fn insert_site_group(&mut self, group: &SiteGroup) -> StorageResult<()> {
        let result = site_groups::insert(self.conn_mut()?, group).await;
        self.observe(result)
    }
    async fn update_site_group(&mut self, group: &Locked<SiteGroup>) -> StorageResult<()> {
        let result = site_groups::update(self.conn_mut()?, group).await;
        self.observe(result)
    }

    async fn insert_room(&mut self, room: &Room) -> StorageResult<()> {
        let result = rooms::insert(self.conn_mut()?, room).await;
        self.observe(result)
    }
    async fn update_room(&mut self, room: &Locked<Room>) -> StorageResult<()> {
        let result = rooms::update(self.conn_mut()?, room).await;
        self.observe(result)
    }

    async fn insert_price_list(&mut self, price_list: &PriceList) -> StorageResult<()> {
        let result = price_lists::insert(self.conn_mut()?, price_list).await;
        self.observe(result)
    }
    async fn update_price_list(&mut self, price_list: &Locked<PriceList>) -> StorageResult<()> {
        let result = price_lists::update(self.conn_mut()?, price_list).await;
        self.observe(result)
    }

    async fn insert_user(&mut self, user: &User) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, users::insert, user);
        self.observe(result)
    }
    async fn insert_users(&mut self, users: &[User]) -> StorageResult<()> {
        // One savepoint for the batch: a violation undoes all of it, and only it.
        let result = in_savepoint!(self.conn_mut()?, users::insert_many, users);
        self.observe(result)
    }
    async fn update_user(&mut self, user: &Locked<User>) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, users::update, &**user);
        self.observe(result)
    }
    async fn replace_booking_code_hash(
        &mut self,
        id: UserId,
        from: &Secret,
        to: &Secret,
    ) -> StorageResult<bool> {
        // `to` may be taken (`users_booking_code_key`): the unit of work survives that.
        let result = in_savepoint!(
            self.conn_mut()?,
            users::replace_booking_code_hash,
            id,
            from,
            to
        );
        self.observe(result)
    }

    async fn insert_session(&mut self, session: &Session) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, sessions::insert, session);
        self.observe(result)
    }
    async fn update_session(&mut self, session: &Locked<Session>) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, sessions::update, &**session);
        self.observe(result)
    }

    async fn insert_audit_event(&mut self, event: &AuditEvent) -> StorageResult<()> {
        self.pending_audits().push(event.clone());
        Ok(())
    }

    async fn insert_booking(&mut self, booking: &Booking) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, bookings::insert, booking);
        self.observe(result)
    }
    async fn insert_booking_held_by(
        &mut self,
        booking: &Booking,
        holder: &User,
    ) -> StorageResult<bool> {
        // No savepoint: an overlap fails the whole unit of work, which the domain then drops.
        let result =
            bookings::insert_held_by(self.conn_mut()?, booking, holder.id, holder.status.label())
                .await;
        self.observe(result)
    }
    async fn insert_booking_series_held_by(
        &mut self,
        series: &BookingSeries,
        occurrences: &[Booking],
        holder: &User,
    ) -> StorageResult<bool> {
        // No savepoint: an overlap fails the whole unit of work, which the domain then drops.
        let result = booking_series::insert_held_by(
            self.conn_mut()?,
            series,
            occurrences,
            holder.id,
            holder.status.label(),
        )
        .await;
        self.observe(result)
    }
    async fn update_booking(&mut self, booking: &Locked<Booking>) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, bookings::update, &**booking);
        self.observe(result)
    }
    async fn update_bookings(&mut self, changed: &[Locked<Booking>]) -> StorageResult<()> {
        // No savepoint (two statements less): an overlap fails the whole unit of work, which
        // the domain then drops.
        let rows: Vec<&Booking> = changed.iter().map(|b| &**b).collect();
        let result = bookings::update_many(self.conn_mut()?, &rows).await;
        self.observe(result)
    }

    async fn insert_device(&mut self, device: &Device) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, devices::insert, device);
        self.observe(result)
    }
    async fn update_device(&mut self, device: &Locked<Device>) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, devices::update, &**device);
        self.observe(result)
    }
    async fn replace_device_token_hash(
        &mut self,
        id: DeviceId,
        from: &Secret,
        to: &Secret,
    ) -> StorageResult<bool> {
        // `to` may be taken (`devices_token_hash_key`): the unit of work survives that.
        let result = in_savepoint!(self.conn_mut()?, devices::replace_token_hash, id, from, to);
        self.observe(result)
    }

    async fn publish_booking_event(&mut self, event: &BookingEvent) -> StorageResult<()> {
        // The log records the booking as written here, and its holder as this transaction
        // sees them at the commit (see `queries::booking_events::append`).
        self.events
            .push(booking_events::Pending::Booking(event.clone()));
        Ok(())
    }

    async fn publish_access_ended(&mut self, fact: &AccessEnded) -> StorageResult<()> {
        self.events
            .push(booking_events::Pending::AccessEnded(*fact));
        Ok(())
    }

    async fn lock_second_factor(&mut self, user: UserId) -> LockedResult<SecondFactor> {
        let result = crate::queries::second_factors::lock(self.conn_mut()?, user).await;
        self.observe(result).map(locked)
    }
    async fn insert_second_factor(&mut self, factor: &SecondFactor) -> StorageResult<bool> {
        let result = in_savepoint!(
            self.conn_mut()?,
            crate::queries::second_factors::insert,
            factor
        );
        self.observe(result)
    }
    async fn update_second_factor(&mut self, factor: &Locked<SecondFactor>) -> StorageResult<()> {
        let result = crate::queries::second_factors::update(self.conn_mut()?, factor).await;
        self.observe(result)
    }
    async fn delete_second_factor(&mut self, factor: Locked<SecondFactor>) -> StorageResult<()> {
        let result = crate::queries::second_factors::delete(self.conn_mut()?, factor.user_id).await;
        self.observe(result)
    }
    async fn set_second_factor_required(
        &mut self,
        organization: OrganizationId,
        required: bool,
    ) -> StorageResult<()> {
        let result =
            crate::queries::second_factors::set_required(self.conn_mut()?, organization, required)
                .await;
        self.observe(result)
    }

    async fn lock_scim_token(&mut self, id: ScimTokenId) -> LockedResult<ScimToken> {
        let result = crate::queries::scim_tokens::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn insert_scim_token(&mut self, token: &ScimToken) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, crate::queries::scim_tokens::insert, token);
        self.observe(result)
    }
    async fn update_scim_token(&mut self, token: &Locked<ScimToken>) -> StorageResult<()> {
        let result = crate::queries::scim_tokens::update(self.conn_mut()?, token).await;
        self.observe(result)
    }

    async fn lock_sso_connection(
        &mut self,
        organization: OrganizationId,
    ) -> LockedResult<SsoConnection> {
        let result = sso::lock_connection(self.conn_mut()?, organization).await;
        self.observe(result).map(locked)
    }
    async fn insert_sso_connection(&mut self, connection: &SsoConnection) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, sso::insert_connection, connection);
        self.observe(result)
    }
    async fn update_sso_connection(
        &mut self,
        connection: &Locked<SsoConnection>,
    ) -> StorageResult<()> {
        let result = sso::update_connection(self.conn_mut()?, connection).await;
        self.observe(result)
    }
    async fn delete_sso_connection(
        &mut self,
        connection: Locked<SsoConnection>,
    ) -> StorageResult<()> {
        let result = sso::delete_connection(self.conn_mut()?, connection.organization_id).await;
        self.observe(result)
    }
    async fn insert_sso_identity(&mut self, identity: &SsoIdentity) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, sso::insert_identity, identity);
        self.observe(result)
    }
    async fn insert_sso_login(&mut self, login: &SsoLogin) -> StorageResult<()> {
        let result = sso::insert_login(self.conn_mut()?, login).await;
        self.observe(result)
    }
    async fn lock_sso_login_by_hash(&mut self, hash: &str) -> LockedResult<SsoLogin> {
        let result = sso::lock_login_by_hash(self.conn_mut()?, hash).await;
        self.observe(result).map(locked)
    }
    async fn update_sso_login(&mut self, login: &Locked<SsoLogin>) -> StorageResult<()> {
        let result = sso::update_login(self.conn_mut()?, login).await;
        self.observe(result)
    }
    async fn delete_sso_login(&mut self, login: Locked<SsoLogin>) -> StorageResult<()> {
        let result = sso::delete_login(self.conn_mut()?, login.id).await;
        self.observe(result)
    }
    async fn lock_calendar_feed(&mut self, id: CalendarFeedId) -> LockedResult<CalendarFeed> {
        let result = crate::queries::calendar_feeds::lock(self.conn_mut()?, id).await;
        self.observe(result).map(locked)
    }
    async fn insert_calendar_feed(&mut self, feed: &CalendarFeed) -> StorageResult<()> {
        let result = crate::queries::calendar_feeds::insert(self.conn_mut()?, feed).await;
        self.observe(result)
    }
    async fn update_calendar_feed(&mut self, feed: &Locked<CalendarFeed>) -> StorageResult<()> {
        let result = crate::queries::calendar_feeds::update(self.conn_mut()?, feed).await;
        self.observe(result)
    }
    async fn sweep_sso_logins(
        &mut self,
        organization: OrganizationId,
        now: chrono::DateTime<chrono::Utc>,
        address: Option<&str>,
    ) -> StorageResult<PendingSsoLogins> {
        let result = sso::sweep_logins(self.conn_mut()?, organization, now, address).await;
        self.observe(result)
    }

    async fn insert_invitation(&mut self, invitation: &Invitation) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, invitations::insert, invitation);
        self.observe(result)
    }
    async fn update_invitation(&mut self, invitation: &Locked<Invitation>) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, invitations::update, &**invitation);
        self.observe(result)
    }

    async fn insert_password_reset(&mut self, reset: &PasswordResetToken) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, password_resets::insert, reset);
        self.observe(result)
    }
    async fn update_password_reset(
        &mut self,
        reset: &Locked<PasswordResetToken>,
    ) -> StorageResult<()> {
        let result = in_savepoint!(self.conn_mut()?, password_resets::update, &**reset);
        self.observe(result)
    }

    async fn insert_email(&mut self, email: &OutboundEmail) -> StorageResult<()> {
        self.pending_emails().push(email.clone());
        Ok(())
    }
    async fn insert_emails(&mut self, emails: &[OutboundEmail]) -> StorageResult<()> {
        let result = emails::insert_many(self.conn_mut()?, emails).await;
        self.observe(result)
    }
    async fn update_email(&mut self, email: &OutboundEmail) -> StorageResult<()> {
        self.write_pending_emails().await?;
        let result = emails::update(self.conn_mut()?, email).await;
        self.observe(result)
    }
    async fn claim_emails(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> StorageResult<Vec<OutboundEmail>> {
        self.write_pending_emails().await?;
        let result = emails::claim(self.conn_mut()?, now, lease, limit).await;
        self.observe(result)
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    async fn commit(mut self: Box<Self>) -> StorageResult<()> {
        let mut conn = self.conn.get_mut().take().ok_or_else(finished)?;
        if *self.failed.get_mut()
            && let Err(error) = conn.batch_execute("SELECT 1").await
        {
            roll_back(conn).await;
            return Err(match from_diesel(error) {
                StorageError::Unavailable(detail) => StorageError::Unavailable(detail),
                _ => StorageError::Other(
                    "a statement of this transaction failed: it was rolled back".into(),
                ),
            });
        }
        let audits = audit::AuditColumns::of(&std::mem::take(&mut *self.pending_audits()));
        let emails = std::mem::take(&mut *self.pending_emails());
        let events = std::mem::take(&mut self.events);
        if let Err(error) = booking_events::append(&mut conn, &events, audits, emails).await {
            roll_back(conn).await;
            return Err(error);
        }
        match AnsiTransactionManager::commit_transaction(&mut *conn).await {
            Ok(()) => Ok(()),
            Err(error) => {
                // diesel-async rolls back a failed COMMIT (e.g. a deferred foreign key); if
                // even that failed, the connection's state is unknown: never reuse it.
                if AnsiTransactionManager::is_broken_transaction_manager(&mut *conn) {
                    drop(PooledConnection::take(conn));
                }
                Err(from_diesel(error))
            }
        }
    }
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        let Some(conn) = self.conn.get_mut().take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(roll_back(conn));
            }
            // Closing the connection makes the server abort the transaction.
            Err(_) => drop(PooledConnection::take(conn)),
        }
    }
}

async fn roll_back(mut conn: PooledConnection) {
    if let Err(error) = AnsiTransactionManager::rollback_transaction(&mut *conn).await {
        tracing::warn!(%error, "rollback of a dropped transaction failed; closing its connection");
        drop(PooledConnection::take(conn));
    }
}
