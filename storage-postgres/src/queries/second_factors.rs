//! Second factors (TOTP) and the organizations' rule requiring them.

use chrono::{DateTime, Utc};
use concierge_domain::ids::{OrganizationId, UserId};
use concierge_domain::model::SecondFactor;
use concierge_domain::storage::StorageResult;
use concierge_domain::values::Secret;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::schema::{second_factor_policies, second_factors};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = second_factors, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct SecondFactorRow {
    user_id: Uuid,
    sealed_secret: String,
    confirmed_at: Option<DateTime<Utc>>,
    last_used_step: Option<i64>,
    recovery_code_hashes: Vec<String>,
    challenge_hash: Option<String>,
    challenge_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<&SecondFactor> for SecondFactorRow {
    fn from(f: &SecondFactor) -> Self {
        SecondFactorRow {
            user_id: f.user_id.0,
            sealed_secret: f.sealed_secret.clone(),
            confirmed_at: f.confirmed_at,
            last_used_step: f.last_used_step,
            recovery_code_hashes: f
                .recovery_code_hashes
                .iter()
                .map(|h| h.expose().to_owned())
                .collect(),
            challenge_hash: f.challenge_hash.as_ref().map(|h| h.expose().to_owned()),
            challenge_expires_at: f.challenge_expires_at,
            created_at: f.created_at,
        }
    }
}

impl From<SecondFactorRow> for SecondFactor {
    fn from(row: SecondFactorRow) -> Self {
        SecondFactor {
            user_id: UserId(row.user_id),
            sealed_secret: row.sealed_secret,
            confirmed_at: row.confirmed_at,
            last_used_step: row.last_used_step,
            recovery_code_hashes: row
                .recovery_code_hashes
                .into_iter()
                .map(Secret::new)
                .collect(),
            challenge_hash: row.challenge_hash.map(Secret::new),
            challenge_expires_at: row.challenge_expires_at,
            created_at: row.created_at,
        }
    }
}

pub(crate) async fn by_user(conn: &mut Conn, user: UserId) -> StorageResult<Option<SecondFactor>> {
    let row = second_factors::table
        .find(user.0)
        .select(SecondFactorRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(SecondFactor::from))
}

/// The second factor of `user`, locked until the transaction ends.
pub(crate) async fn lock(conn: &mut Conn, user: UserId) -> StorageResult<Option<SecondFactor>> {
    let row = second_factors::table
        .find(user.0)
        .select(SecondFactorRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(SecondFactor::from))
}

/// Inserts the factor unless the user has one already (then `false`, changing nothing).
pub(crate) async fn insert(conn: &mut Conn, factor: &SecondFactor) -> StorageResult<bool> {
    let inserted = diesel::insert_into(second_factors::table)
        .values(SecondFactorRow::from(factor))
        .on_conflict(second_factors::user_id)
        .do_nothing()
        .execute(conn)
        .await
        .storage()?;
    Ok(inserted == 1)
}

pub(crate) async fn update(conn: &mut Conn, factor: &SecondFactor) -> StorageResult<()> {
    let affected = diesel::update(second_factors::table.find(factor.user_id.0))
        .set(SecondFactorRow::from(factor))
        .execute(conn)
        .await
        .storage()?;
    expect_one("second factor", affected)
}

pub(crate) async fn delete(conn: &mut Conn, user: UserId) -> StorageResult<()> {
    diesel::delete(second_factors::table.find(user.0))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn required(conn: &mut Conn, organization: OrganizationId) -> StorageResult<bool> {
    let required = second_factor_policies::table
        .find(organization.0)
        .select(second_factor_policies::required)
        .first::<bool>(conn)
        .await
        .optional()
        .storage()?;
    Ok(required.unwrap_or(false))
}

pub(crate) async fn set_required(
    conn: &mut Conn,
    organization: OrganizationId,
    required: bool,
) -> StorageResult<()> {
    diesel::insert_into(second_factor_policies::table)
        .values((
            second_factor_policies::organization_id.eq(organization.0),
            second_factor_policies::required.eq(required),
        ))
        .on_conflict(second_factor_policies::organization_id)
        .do_update()
        .set(second_factor_policies::required.eq(excluded(second_factor_policies::required)))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}
