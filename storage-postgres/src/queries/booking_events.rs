//! The feed's log (`booking_events`): appended by committing transactions, read by the listener.
//!
//! Each entry is written inside the transaction of the change it records, by ONE statement for
//! the transaction's run of booking events (a series' occurrences together): the INSERT (with
//! each booking as the transaction wrote it, bound as JSON, and its holder as the transaction
//! sees them, read by the same statement) and the `pg_notify`s. No lock orders the
//! appends: `seq` is drawn at the INSERT, so two independent transactions may commit in the
//! other order than their `seq`s. Changes that depend on each other are ordered by the row locks
//! they take (a booking's change waits for the one before it, which drew its `seq` first), so
//! `seq` order is commit order for everything one subscriber relates; the listener fills the
//! gaps a later commit of a smaller `seq` leaves (see `listener`).

use concierge_domain::ids::*;
use concierge_domain::model::{
    AccessEnded, Booking, BookingEvent, BookingEventKind, FeedBooking, FeedEvent, User,
};
use concierge_domain::storage::{StorageError, StorageResult};
use diesel::dsl::{max, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::audit::AuditColumns;
use super::emails::EmailColumns;
use crate::errors::{IntoStorage, corrupt};
use crate::rows::{BookingRow, Label, UserRow};
use crate::schema::booking_events;

/// The channel every server LISTENs on; a notification's payload is the event's `seq`.
pub(crate) const CHANNEL: &str = "concierge_booking_events";

/// The `kind` of an access-ended fact (booking events use their kind's label).
const ACCESS_ENDED: &str = "ACCESS_ENDED";

/// What a transaction queues for its commit.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    Booking(BookingEvent),
    AccessEnded(AccessEnded),
}

/// Appends `pending` to the log, in order, and notifies every listener: one statement per run
/// of booking events (a series' occurrences are one run) and one per access-ended fact, each
/// prepared once per connection. Runs as the last statements of a transaction, right before
/// its COMMIT.
/// The transaction's audit events are written by the same statement as its first booking
/// events (or, without any, by a statement of their own): a booking's change, its audit and its
/// event cost one statement.
pub(crate) async fn append(
    conn: &mut Conn,
    pending: &[Pending],
    audits: AuditColumns,
    emails: Vec<concierge_domain::model::OutboundEmail>,
) -> StorageResult<()> {
    let mut audits = Some(audits);
    let mut emails = Some(emails);
    let mut rest = pending;
    while let Some(entry) = rest.first() {
        match entry {
            Pending::Booking(_) => {
                let run = rest
                    .iter()
                    .take_while(|e| matches!(e, Pending::Booking(_)))
                    .count();
                let events = rest[..run].iter().filter_map(|e| match e {
                    Pending::Booking(event) => Some(event),
                    Pending::AccessEnded(_) => None,
                });
                let mailed = EmailColumns::of(&emails.take().unwrap_or_default());
                append_bookings(conn, events, audits.take().unwrap_or_default(), mailed).await?;
                rest = &rest[run..];
            }
            Pending::AccessEnded(fact) => {
                append_access_ended(conn, fact).await?;
                rest = &rest[1..];
            }
        }
    }
    if let Some(audits) = audits {
        super::audit::insert_all(conn, audits).await?;
    }
    if let Some(emails) = emails
        && !emails.is_empty()
    {
        super::emails::insert_many(conn, &emails).await?;
    }
    Ok(())
}

async fn append_bookings(
    conn: &mut Conn,
    events: impl Iterator<Item = &BookingEvent>,
    audits: AuditColumns,
    emails: EmailColumns,
) -> StorageResult<()> {
    let mut append = AppendBookings {
        audits,
        emails,
        kinds: Vec::new(),
        booking_ids: Vec::new(),
        bookings: Vec::new(),
        holder_ids: Vec::new(),
    };
    for event in events {
        let booking = serde_json::to_string(&BookingSnapshot::from(&event.booking))
            .map_err(|e| StorageError::Other(format!("booking snapshot: {e}")))?;
        append.kinds.push(event.kind.label());
        append.booking_ids.push(event.booking.id.0);
        append.bookings.push(booking);
        append.holder_ids.push(event.booking.user_id.0);
    }
    append.execute(conn).await.storage()?;
    Ok(())
}

async fn append_access_ended(conn: &mut Conn, fact: &AccessEnded) -> StorageResult<()> {
    let body = serde_json::to_string(&Body {
        booking: None,
        holder: None,
        access_ended: Some(AccessEndedSnapshot::from(fact)),
    })
    .map_err(|e| StorageError::Other(format!("access-ended fact: {e}")))?;
    AppendAccessEnded { body }.execute(conn).await.storage()?;
    Ok(())
}

/// The INSERT of booking events (one or many, in order), with their `pg_notify`s: each booking
/// as the transaction wrote it (bound as JSON), and its holder as the transaction sees them (a
/// booking's holder is locked by the transaction that books for them), without credentials nor
/// search columns, with their grants in id order. NOTIFY is delivered at commit, in commit
/// order, never on rollback.
///
/// A statement of fixed text (a type of its own, unlike `sql_query`; the events are arrays):
/// diesel prepares it once per connection.
#[derive(QueryId)]
struct AppendBookings {
    /// Written first, by the same statement (none is fine).
    audits: AuditColumns,
    /// Likewise (a booking's e-mail to its holder).
    emails: EmailColumns,
    kinds: Vec<&'static str>,
    booking_ids: Vec<Uuid>,
    bookings: Vec<String>,
    holder_ids: Vec<Uuid>,
}

impl QueryFragment<Pg> for AppendBookings {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH audited AS (");
        self.audits.walk_insert(&mut out)?;
        out.push_sql("), mailed AS (");
        self.emails.walk_insert(&mut out)?;
        out.push_sql(
            "), appended AS (INSERT INTO booking_events (kind, booking_id, body) \
             SELECT e.kind, e.booking_id, json_build_object('booking', e.booking::json, \
             'holder', (\
             SELECT to_jsonb(u) - 'password_hash' - 'booking_code_hash' \
                    - 'first_name_lower' - 'last_name_lower' \
                    || jsonb_build_object(\
                        'site_ids', ARRAY(SELECT s.site_id FROM user_sites s \
                                          WHERE s.user_id = u.id ORDER BY s.site_id), \
                        'site_group_ids', ARRAY(SELECT g.site_group_id FROM user_site_groups g \
                                          WHERE g.user_id = u.id ORDER BY g.site_group_id)) \
             FROM users u WHERE u.id = e.holder_id))::text FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.booking_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Text>, _>(&self.bookings)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.holder_ids)?;
        // In the order given: `seq` is drawn row by row as the sorted rows are inserted.
        out.push_sql(
            "::uuid[]) WITH ORDINALITY AS e(kind, booking_id, booking, holder_id, n) \
             ORDER BY e.n RETURNING seq) SELECT pg_notify('",
        );
        out.push_sql(CHANNEL);
        out.push_sql("', seq::text) FROM appended");
        Ok(())
    }
}

/// The INSERT of an access-ended fact, with its `pg_notify` (fixed text, prepared once).
#[derive(QueryId)]
struct AppendAccessEnded {
    body: String,
}

impl QueryFragment<Pg> for AppendAccessEnded {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH appended AS (INSERT INTO booking_events (kind, body) VALUES ('");
        out.push_sql(ACCESS_ENDED);
        out.push_sql("', ");
        out.push_bind_param::<Text, _>(&self.body)?;
        out.push_sql(") RETURNING seq) SELECT pg_notify('");
        out.push_sql(CHANNEL);
        out.push_sql("', seq::text) FROM appended");
        Ok(())
    }
}

/// Whether the log exists yet (a store may be connected before the migrations ran).
pub(crate) async fn log_exists(conn: &mut Conn) -> StorageResult<bool> {
    diesel::select(sql::<Bool>("to_regclass('booking_events') IS NOT NULL"))
        .get_result(conn)
        .await
        .storage()
}

/// The last `seq` committed, 0 for an empty log.
pub(crate) async fn last_seq(conn: &mut Conn) -> StorageResult<i64> {
    let last: Option<i64> = booking_events::table
        .select(max(booking_events::seq))
        .get_result(conn)
        .await
        .storage()?;
    Ok(last.unwrap_or(0))
}

/// Deletes the events recorded before `before`, up to `seq` at most (never one a listener of
/// this process has yet to deliver); returns how many went. The log only serves listeners that
/// reconnect, which replay what they missed within seconds, so a day of events is plenty.
pub(crate) async fn prune(
    conn: &mut Conn,
    before: chrono::DateTime<chrono::Utc>,
    seq: i64,
) -> StorageResult<usize> {
    diesel::delete(
        booking_events::table
            .filter(booking_events::at.lt(before))
            .filter(booking_events::seq.le(seq)),
    )
    .execute(conn)
    .await
    .storage()
}

/// One entry of the log as the listener reads it.
pub(crate) struct Entry {
    pub seq: i64,
    pub kind: String,
    pub body: Option<String>,
}

/// Up to `limit` entries after `seq`, and those of `gaps` (smaller `seq`s not seen yet, whose
/// transactions may commit late), in `seq` order. One statement, whatever the number of gaps
/// (an array parameter).
pub(crate) async fn after(
    conn: &mut Conn,
    seq: i64,
    gaps: &[i64],
    limit: i64,
) -> StorageResult<Vec<Entry>> {
    let rows: Vec<(i64, String, Option<String>)> = booking_events::table
        .filter(
            booking_events::seq
                .gt(seq)
                .or(booking_events::seq.eq_any(gaps)),
        )
        .order(booking_events::seq)
        .limit(limit)
        .select((
            booking_events::seq,
            booking_events::kind,
            booking_events::body,
        ))
        .load(conn)
        .await
        .storage()?;
    Ok(rows
        .into_iter()
        .map(|(seq, kind, body)| Entry { seq, kind, body })
        .collect())
}

impl Entry {
    /// The feed item this entry records.
    pub(crate) fn decode(&self) -> StorageResult<FeedEvent> {
        let body = self
            .body
            .as_deref()
            .ok_or_else(|| corrupt("booking event", "no body (written before the feed)"))?;
        let body: Body =
            serde_json::from_str(body).map_err(|e| corrupt("booking event body", e))?;
        if self.kind == ACCESS_ENDED {
            let fact = body
                .access_ended
                .ok_or_else(|| corrupt("access-ended fact", "missing"))?;
            return Ok(FeedEvent::AccessEnded(fact.into()));
        }
        let kind = BookingEventKind::from_label(&self.kind)?;
        let booking = body
            .booking
            .ok_or_else(|| corrupt("booking event", "no booking"))?
            .try_into()?;
        let holder = body.holder.map(HolderSnapshot::into_user).transpose()?;
        Ok(FeedEvent::Booking(std::sync::Arc::new(FeedBooking {
            event: BookingEvent { kind, booking },
            holder,
        })))
    }
}

/// `booking_events.body`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    booking: Option<BookingSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    holder: Option<HolderSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_ended: Option<AccessEndedSnapshot>,
}

/// A booking as written, with the column names and labels of `bookings`.
#[derive(serde::Serialize, serde::Deserialize)]
struct BookingSnapshot {
    id: Uuid,
    room_id: Uuid,
    site_id: Uuid,
    organization_id: Uuid,
    user_id: Uuid,
    created_by: Uuid,
    title: Option<String>,
    start_at: chrono::DateTime<chrono::Utc>,
    end_at: chrono::DateTime<chrono::Utc>,
    source: String,
    status: String,
    created_at: chrono::DateTime<chrono::Utc>,
    /// Absent from entries written before check-in existed.
    #[serde(default)]
    checked_in_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    release_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Absent from entries written before series existed.
    #[serde(default)]
    series_id: Option<Uuid>,
}

impl From<&Booking> for BookingSnapshot {
    fn from(b: &Booking) -> Self {
        let row = BookingRow::from(b);
        BookingSnapshot {
            id: row.id,
            room_id: row.room_id,
            site_id: row.site_id,
            organization_id: row.organization_id,
            user_id: row.user_id,
            created_by: row.created_by,
            title: row.title,
            start_at: row.start_at,
            end_at: row.end_at,
            source: row.source,
            status: row.status,
            created_at: row.created_at,
            checked_in_at: row.checked_in_at,
            release_at: row.release_at,
            series_id: row.series_id,
        }
    }
}

impl TryFrom<BookingSnapshot> for Booking {
    type Error = StorageError;
    fn try_from(s: BookingSnapshot) -> StorageResult<Booking> {
        Booking::try_from(BookingRow {
            id: s.id,
            room_id: s.room_id,
            site_id: s.site_id,
            organization_id: s.organization_id,
            user_id: s.user_id,
            created_by: s.created_by,
            title: s.title,
            start_at: s.start_at,
            end_at: s.end_at,
            source: s.source,
            status: s.status,
            created_at: s.created_at,
            checked_in_at: s.checked_in_at,
            release_at: s.release_at,
            series_id: s.series_id,
        })
    }
}

/// A `users` row as `to_jsonb` writes it (credentials and search columns removed), with the
/// user's grants.
#[derive(serde::Serialize, serde::Deserialize)]
struct HolderSnapshot {
    id: Uuid,
    organization_id: Uuid,
    first_name: String,
    last_name: String,
    email: Option<String>,
    username: Option<String>,
    language: String,
    status: String,
    profile_id: Uuid,
    default_site_id: Option<Uuid>,
    external_contact: Option<String>,
    price_list_id: Option<Uuid>,
    photo_url: Option<String>,
    must_change_password: bool,
    session_epoch: i64,
    created_by: Option<Uuid>,
    created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    site_ids: Vec<Uuid>,
    #[serde(default)]
    site_group_ids: Vec<Uuid>,
}

impl HolderSnapshot {
    fn into_user(self) -> StorageResult<User> {
        let row = UserRow {
            id: self.id,
            organization_id: self.organization_id,
            first_name_lower: String::new(),
            last_name_lower: String::new(),
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            username: self.username,
            language: self.language,
            status: self.status,
            profile_id: self.profile_id,
            default_site_id: self.default_site_id,
            external_contact: self.external_contact,
            price_list_id: self.price_list_id,
            photo_url: self.photo_url,
            password_hash: None,
            must_change_password: self.must_change_password,
            booking_code_hash: None,
            session_epoch: self.session_epoch,
            created_by: self.created_by,
            created_at: self.created_at,
        };
        row.into_user(
            self.site_ids.into_iter().map(SiteId).collect(),
            self.site_group_ids.into_iter().map(SiteGroupId).collect(),
        )
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum AccessEndedSnapshot {
    User(Uuid),
    Session(Uuid),
    Device(Uuid),
    Profile(Uuid),
    SiteGroup(Uuid),
    Organization(Uuid),
}

impl From<&AccessEnded> for AccessEndedSnapshot {
    fn from(fact: &AccessEnded) -> Self {
        match *fact {
            AccessEnded::User(id) => AccessEndedSnapshot::User(id.0),
            AccessEnded::Session(id) => AccessEndedSnapshot::Session(id.0),
            AccessEnded::Device(id) => AccessEndedSnapshot::Device(id.0),
            AccessEnded::Profile(id) => AccessEndedSnapshot::Profile(id.0),
            AccessEnded::SiteGroup(id) => AccessEndedSnapshot::SiteGroup(id.0),
            AccessEnded::Organization(id) => AccessEndedSnapshot::Organization(id.0),
        }
    }
}

impl From<AccessEndedSnapshot> for AccessEnded {
    fn from(fact: AccessEndedSnapshot) -> Self {
        match fact {
            AccessEndedSnapshot::User(id) => AccessEnded::User(UserId(id)),
            AccessEndedSnapshot::Session(id) => AccessEnded::Session(SessionId(id)),
            AccessEndedSnapshot::Device(id) => AccessEnded::Device(DeviceId(id)),
            AccessEndedSnapshot::Profile(id) => AccessEnded::Profile(ProfileId(id)),
            AccessEndedSnapshot::SiteGroup(id) => AccessEnded::SiteGroup(SiteGroupId(id)),
            AccessEndedSnapshot::Organization(id) => AccessEnded::Organization(OrganizationId(id)),
        }
    }
}
