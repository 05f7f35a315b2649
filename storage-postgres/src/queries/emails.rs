//! The outbox: messages written with the change that causes them, claimed by delivery workers.

use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::EmailId;
use concierge_domain::model::OutboundEmail;
use concierge_domain::storage::{StorageError, StorageResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;

use super::{Conn, convert, expect_one};
use crate::errors::IntoStorage;
use crate::rows::OutboxEmailRow;
use crate::schema::outbox_emails;

pub(crate) async fn by_id(conn: &mut Conn, id: EmailId) -> StorageResult<Option<OutboundEmail>> {
    let row = outbox_emails::table
        .find(id.0)
        .select(OutboxEmailRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(OutboundEmail::try_from).transpose()
}

/// Messages neither delivered nor abandoned (due or not): the backlog. The predicate is the one
/// of the partial index `outbox_emails_due_idx`.
pub(crate) async fn pending_count(conn: &mut Conn) -> StorageResult<i64> {
    outbox_emails::table
        .filter(outbox_emails::sent_at.is_null())
        .filter(outbox_emails::abandoned_at.is_null())
        .count()
        .get_result(conn)
        .await
        .storage()
}

pub(crate) async fn update(conn: &mut Conn, email: &OutboundEmail) -> StorageResult<()> {
    let affected = diesel::update(outbox_emails::table.find(email.id.0))
        .set(OutboxEmailRow::from(email))
        .execute(conn)
        .await
        .storage()?;
    expect_one("e-mail", affected)
}

/// Picks the due messages and leases them in one statement. Only pending messages (neither sent
/// nor abandoned: the predicate of the partial index `outbox_emails_due_idx`) are due.
/// `SKIP LOCKED` passes over rows that a concurrent claim holds (it leases them too; they are not
/// due anymore once it commits), and a row leased, delivered or abandoned and committed meanwhile
/// is re-checked against the whole condition before it is locked, so two claims never return one
/// message and a finished one is never returned. The CTE is materialized so that the locking
/// select runs exactly once, whatever the plan: `LIMIT` holds.
const CLAIM: &str = "\
    WITH due AS MATERIALIZED ( \
        SELECT id FROM outbox_emails \
        WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1 \
        ORDER BY id \
        LIMIT $2 \
        FOR UPDATE SKIP LOCKED \
    ) \
    UPDATE outbox_emails SET next_attempt_at = $3 \
    FROM due WHERE outbox_emails.id = due.id \
    RETURNING outbox_emails.*";

/// Up to `limit` messages due at `now`, oldest first, each leased until `now + lease`.
pub(crate) async fn claim(
    conn: &mut Conn,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
) -> StorageResult<Vec<OutboundEmail>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let until = now
        .checked_add_signed(lease)
        .ok_or_else(|| StorageError::Other(format!("lease of {lease} from {now} overflows")))?;
    let mut rows: Vec<OutboxEmailRow> = diesel::sql_query(CLAIM)
        .bind::<Timestamptz, _>(now)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind::<Timestamptz, _>(until)
        .load(conn)
        .await
        .storage()?;
    // RETURNING follows no particular order.
    rows.sort_by_key(|row| row.id);
    convert(rows)
}

/// Messages written by one statement: 1,000 rows of `OutboxEmailRow`'s 12 columns are 12,000
/// bind parameters, well under PostgreSQL's limit of 65,535.
const EMAILS_PER_INSERT: usize = 1_000;

/// Writes `emails` in a few statements whatever their number (bulk import).
pub(crate) async fn insert_many(conn: &mut Conn, emails: &[OutboundEmail]) -> StorageResult<()> {
    let rows: Vec<OutboxEmailRow> = emails.iter().map(OutboxEmailRow::from).collect();
    for chunk in rows.chunks(EMAILS_PER_INSERT) {
        diesel::insert_into(outbox_emails::table)
            .values(chunk)
            .execute(conn)
            .await
            .storage()?;
    }
    Ok(())
}

/// Messages as columns, written by one `INSERT … SELECT * FROM unnest(…)` of fixed text
/// whatever their number: part of the statement that appends a transaction's booking events
/// (see `booking_events::append`), so that a booking's e-mail costs no statement of its own.
#[derive(Debug, Default)]
pub(crate) struct EmailColumns {
    ids: Vec<uuid::Uuid>,
    organization_ids: Vec<Option<uuid::Uuid>>,
    recipients: Vec<String>,
    languages: Vec<String>,
    kinds: Vec<String>,
    sealed_params: Vec<String>,
    attempts: Vec<i32>,
    next_attempt_at: Vec<DateTime<Utc>>,
    sent_at: Vec<Option<DateTime<Utc>>>,
    last_errors: Vec<Option<String>>,
    created_at: Vec<DateTime<Utc>>,
    abandoned_at: Vec<Option<DateTime<Utc>>>,
}

impl EmailColumns {
    pub(crate) fn of(emails: &[OutboundEmail]) -> Self {
        let mut columns = EmailColumns::default();
        for row in emails.iter().map(OutboxEmailRow::from) {
            columns.ids.push(row.id);
            columns.organization_ids.push(row.organization_id);
            columns.recipients.push(row.recipient);
            columns.languages.push(row.language);
            columns.kinds.push(row.kind);
            columns.sealed_params.push(row.sealed_params);
            columns.attempts.push(row.attempts);
            columns.next_attempt_at.push(row.next_attempt_at);
            columns.sent_at.push(row.sent_at);
            columns.last_errors.push(row.last_error);
            columns.created_at.push(row.created_at);
            columns.abandoned_at.push(row.abandoned_at);
        }
        columns
    }

    /// `INSERT INTO outbox_emails (…) SELECT * FROM unnest(…)`, for zero or more messages.
    pub(crate) fn walk_insert<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Int4, Nullable, Text, Uuid as SqlUuid};
        out.push_sql(
            "INSERT INTO outbox_emails (id, organization_id, recipient, language, kind, \
             sealed_params, attempts, next_attempt_at, sent_at, last_error, created_at, \
             abandoned_at) SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&self.organization_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Text>, _>(&self.recipients)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.languages)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.sealed_params)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Int4>, _>(&self.attempts)?;
        out.push_sql("::int4[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.next_attempt_at)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.sent_at)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.last_errors)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.created_at)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.abandoned_at)?;
        out.push_sql("::timestamptz[])");
        Ok(())
    }
}
