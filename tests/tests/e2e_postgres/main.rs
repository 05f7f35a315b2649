//! A representative subset of the end-to-end suite, through the GraphQL schema on PostgreSQL:
//! onboarding (partner → company → site → room → users), sign-in and sessions, the users
//! connection (cursors, totals, search), conflicts on logins, profiles in use, tenancy, and
//! bookings under concurrency (one slot raced fifty times, back-to-back slots, cancellations),
//! and the booking stories (seeds 001 and 000, policy violations, deactivation, a DST day).
//!
//! Each scenario is written once against a [`TestApp`] and stamped out twice: `postgres::<case>`
//! on a fresh migrated database of its own, and `memory::<case>` on the memory backend. The same
//! scenario passing on both is what proves the backends agree; one failing only on PostgreSQL
//! points at the PostgreSQL store. `persistence` holds what only PostgreSQL can prove: data
//! written through one application is read back by another over a new connection pool.
//!
//! PostgreSQL is the one at `DATABASE_URL` (see `concierge_tests::postgres`); without a server
//! the PostgreSQL cases fail, they never skip.

mod available_rooms;
mod booking_series;
mod bookings;
mod check_in;
mod onboarding;
mod persistence;
mod profiles;
mod scim;
mod second_factor;
mod sessions;
mod statement_budget;
mod stories;
mod tenancy;
mod users;

/// The memory suite's helpers (reading ids out of responses), shared rather than copied.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

/// A scenario that hangs (a connection never returned, a lock never released) fails instead.
const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Stamps out `postgres::<case>` and `memory::<case>` for every `module::case` listed.
macro_rules! on_both_backends {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let database = concierge_tests::postgres::fresh_database().await;
                    let store = std::sync::Arc::new(database.store().clone());
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let app = concierge_tests::TestApp::on_storage(store).await;
                        super::$module::$case(&app).await;
                    })
                    .await
                    .expect("the scenario timed out");
                }
            )+
        }

        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let app = concierge_tests::TestApp::spawn().await;
                        super::$module::$case(&app).await;
                    })
                    .await
                    .expect("the scenario timed out");
                }
            )+
        }
    };
}

on_both_backends!(
    onboarding::a_partner_onboards_a_company_with_sites_rooms_and_people,
    sessions::login_refresh_and_logout,
    sessions::sign_in_failures_look_alike,
    users::users_page_with_cursors_and_a_total,
    users::search_matches_names_emails_and_usernames_in_any_case,
    users::a_taken_username_or_email_is_a_conflict_on_that_field,
    profiles::a_profile_in_use_cannot_be_deleted,
    tenancy::another_tenants_ids_answer_not_found,
    bookings::fifty_concurrent_bookings_of_one_slot_yield_exactly_one,
    bookings::twenty_concurrent_back_to_back_slots_all_succeed,
    bookings::a_cancelled_booking_frees_its_slot,
    stories::an_administrator_books_for_a_user_and_the_tablet_sees_it_at_once,
    stories::a_tablet_books_with_a_persons_code,
    stories::policy_violations_name_their_field_and_book_nothing,
    stories::deactivating_a_user_cancels_their_upcoming_bookings_and_tells_the_tablets,
    stories::a_day_schedule_follows_daylight_saving_in_paris,
    available_rooms::capacity_equipment_and_policy_choose_the_rooms,
    available_rooms::existing_bookings_overlap_or_not,
    available_rooms::site_access_groups_and_tenancy,
    available_rooms::bad_input_names_its_field,
    booking_series::a_weekly_series_keeps_its_local_time_across_daylight_saving,
    booking_series::a_conflicting_occurrence_fails_or_is_skipped,
    booking_series::cancel_this_and_following,
    booking_series::update_this_and_following_moves_by_local_time,
    booking_series::bad_series_name_their_field,
    booking_series::following_occurrences_move_a_week_later,
    second_factor::a_challenge_raced_by_recovery_codes_signs_in_once,
    scim::a_directory_provisions_people_over_scim,
    scim::a_scim_deactivation_ends_sessions_and_cancels_bookings,
    scim::scim_tokens_stay_in_their_organization,
    scim::site_groups_are_scim_groups,
    scim::an_independent_scim_client_provisions_a_person,
);
