//! The race suite (issue 17): two operations on the same rows released at the same moment,
//! through the GraphQL schema, on both backends.
//!
//! Each race is written once against a [`support::Stage`] (one application, one company) and
//! stamped out twice: `postgres::<case>` on a fresh migrated database of its own and
//! `memory::<case>` on the memory backend, on a multi-threaded runtime so that the two requests
//! really run at once. Every race is run [`support::ROUNDS`] times on fresh people and rows;
//! each round asserts what a user reads back afterwards: every acknowledged change is still
//! there, a deactivation or revocation holds, single-use tokens are used once, and no request
//! ever answers `INTERNAL` (a conflict answers `CONFLICT`).
//!
//! The racing requests are authenticated first, then released together by a barrier (see
//! [`support::race`]); each request comes from a client address of its own, so that the failed
//! attempts a race provokes never add up to the per-address throttle.
//!
//! PostgreSQL is the one at `DATABASE_URL` (see `concierge_tests::postgres`); without a server
//! the PostgreSQL cases fail, they never skip.

#[path = "races/support.rs"]
mod support;

#[path = "races/bookings.rs"]
mod bookings;
#[path = "races/devices.rs"]
mod devices;
#[path = "races/invitations.rs"]
mod invitations;
#[path = "races/links.rs"]
mod links;
#[path = "races/profiles.rs"]
mod profiles;
#[path = "races/sessions.rs"]
mod sessions;
#[path = "races/users.rs"]
mod users;

/// A race that hangs (a lock never released, a deadlock) fails instead.
const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Stamps out `postgres::<case>` and `memory::<case>` for every `module::case` listed.
macro_rules! on_both_backends {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let database = concierge_tests::postgres::fresh_database().await;
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let stage = super::support::Stage::postgres(&database).await;
                        super::$module::$case(&stage).await;
                    })
                    .await
                    .expect("the race timed out");
                }
            )+
        }

        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let stage = super::support::Stage::memory().await;
                        super::$module::$case(&stage).await;
                    })
                    .await
                    .expect("the race timed out");
                }
            )+
        }
    };
}

on_both_backends!(
    users::rename_vs_deactivate,
    users::rename_vs_reset_booking_code,
    users::rename_vs_reset_password,
    users::profile_change_vs_deactivate,
    users::self_edit_vs_deactivate,
    users::site_group_change_vs_grant,
    bookings::move_vs_cancel,
    bookings::move_into_a_slot_vs_booking_it,
    bookings::a_series_vs_a_booking_of_one_of_its_slots,
    devices::revoke_vs_a_booking_with_its_token,
    devices::revoke_vs_the_first_use_after_a_key_rotation,
    devices::revoke_twice_at_once,
    invitations::approve_vs_reject,
    invitations::accept_vs_revoke,
    profiles::update_vs_delete,
    profiles::set_default_vs_delete,
    profiles::assign_vs_delete,
    sessions::change_password_vs_logout,
    sessions::change_password_vs_deactivate,
    sessions::one_refresh_token_used_ten_times,
    links::one_reset_link_used_ten_times,
    links::one_invitation_link_used_ten_times,
);
