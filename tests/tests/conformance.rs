//! The storage conformance suite: every case is written once against `&dyn Storage` (or, for the
//! throttling counters, `&dyn AttemptCounter`) and run on both backends, so the memory and
//! PostgreSQL stores cannot drift apart. The Postgres half needs a server (see
//! `concierge_tests::postgres`); each of its cases gets a fresh database.

#[path = "conformance/fixtures.rs"]
mod fixtures;

#[path = "conformance/attempts.rs"]
mod attempts;
#[path = "conformance/audit.rs"]
mod audit;
#[path = "conformance/batch_users.rs"]
mod batch_users;
#[path = "conformance/booking_series.rs"]
mod booking_series;
#[path = "conformance/bookings.rs"]
mod bookings;
#[path = "conformance/calendar_feeds.rs"]
mod calendar_feeds;
#[path = "conformance/combined_reads.rs"]
mod combined_reads;
#[path = "conformance/mail.rs"]
mod mail;
#[path = "conformance/organizations.rs"]
mod organizations;
#[path = "conformance/places.rs"]
mod places;
#[path = "conformance/postgres_only.rs"]
mod postgres_only;
#[path = "conformance/profiles.rs"]
mod profiles;
#[path = "conformance/rehash.rs"]
mod rehash;
#[path = "conformance/scim_tokens.rs"]
mod scim_tokens;
#[path = "conformance/second_factors.rs"]
mod second_factors;
#[path = "conformance/sessions.rs"]
mod sessions;
#[path = "conformance/single_sign_on.rs"]
mod single_sign_on;
#[path = "conformance/transactions.rs"]
mod transactions;
#[path = "conformance/users.rs"]
mod users;

/// A case that hangs (a lock never released, a connection never returned) fails instead.
const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Stamps out `memory::<case>` and `postgres::<case>` for every `module::case` listed.
macro_rules! conformance {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = concierge_storage_memory::MemoryStore::new();
                    tokio::time::timeout(super::CASE_TIMEOUT, super::$module::$case(&store))
                        .await
                        .expect("the case timed out");
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let database = concierge_tests::postgres::fresh_database().await;
                    tokio::time::timeout(super::CASE_TIMEOUT, super::$module::$case(database.storage()))
                        .await
                        .expect("the case timed out");
                }
            )+
        }
    };
}

/// Connections of the PostgreSQL attempt counters' pool: many, so that concurrent records of one
/// key really run on different connections (the test database's own store has 4).
const ATTEMPT_POOL_SIZE: usize = 16;

/// Stamps out `attempts_on::memory::<case>` and `attempts_on::postgres::<case>` for every
/// `module::case` listed, each taking `&dyn AttemptCounter`: a fresh memory counter, or the
/// counter of a fresh database (over a pool of its own of [`ATTEMPT_POOL_SIZE`] connections).
macro_rules! attempt_counters {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        mod attempts_on {
            mod memory {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let counter = concierge_storage_memory::MemoryAttemptCounter::new();
                        tokio::time::timeout(crate::CASE_TIMEOUT, crate::$module::$case(&counter))
                            .await
                            .expect("the case timed out");
                    }
                )+
            }

            mod postgres {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let database = concierge_tests::postgres::fresh_database().await;
                        let store = concierge_storage_postgres::PgStore::connect(
                            database.url(),
                            crate::ATTEMPT_POOL_SIZE,
                        )
                        .await
                        .expect("a store over the test database");
                        let counter = store.attempt_counter();
                        tokio::time::timeout(crate::CASE_TIMEOUT, crate::$module::$case(&counter))
                            .await
                            .expect("the case timed out");
                    }
                )+
            }
        }
    };
}

attempt_counters!(
    attempts::counts_within_the_window_and_forgets_outside_it,
    attempts::peek_records_nothing,
    attempts::forget_latest_removes_one,
    attempts::keys_are_independent,
    attempts::concurrent_records_see_distinct_counts,
    attempts::concurrent_forgets_each_forget_one,
);

conformance!(
    combined_reads::a_session_comes_with_its_person,
    combined_reads::a_page_of_users_brings_their_profiles_and_counts_only_when_asked,
    combined_reads::a_room_comes_with_what_booking_it_reads,
    combined_reads::a_booking_is_inserted_only_while_its_holder_is_as_checked,
    organizations::organizations_round_trip,
    organizations::updating_a_missing_row_fails,
    organizations::platform_organization,
    organizations::organizations_pagination_and_filters,
    profiles::profiles_round_trip,
    profiles::delete_profile,
    profiles::count_users_with_profile,
    places::sites_round_trip,
    places::sites_pagination,
    places::site_groups_round_trip,
    places::rooms_round_trip,
    places::sites_with_their_rooms,
    places::price_lists_round_trip,
    users::users_round_trip,
    users::user_by_login,
    users::user_by_booking_code,
    users::unique_user_keys,
    users::concurrent_username_commits_once,
    users::users_pagination_and_filters,
    batch_users::insert_users_writes_every_user_with_their_grants,
    batch_users::a_batch_breaking_a_unique_key_writes_none_of_its_users,
    batch_users::insert_emails_writes_every_message_or_none,
    second_factors::second_factors_round_trip,
    second_factors::second_factors_roll_back,
    second_factors::second_factor_policy_round_trip,
    scim_tokens::scim_tokens_round_trip,
    scim_tokens::scim_tokens_roll_back_and_check_references,
    single_sign_on::single_sign_on_round_trip,
    calendar_feeds::calendar_feeds_round_trip,
    sessions::sessions_round_trip_and_rotation,
    sessions::unique_session_token,
    audit::audit_events_newest_first,
    transactions::dropped_transaction_rolls_back,
    transactions::transaction_reads_its_own_writes,
    transactions::transaction_survives_a_unique_violation,
    transactions::ping,
    transactions::a_locking_read_waits_for_the_holder_and_sees_its_commit,
    transactions::a_token_locked_by_hash_is_seen_rotated,
    transactions::locking_reads_of_missing_rows_find_nothing,
    bookings::bookings_round_trip,
    bookings::booking_overlap_on_insert,
    bookings::booking_overlap_on_update,
    bookings::bookings_filters_and_pagination,
    bookings::room_bookings_window,
    bookings::busy_rooms_among_given_rooms,
    bookings::devices_round_trip,
    bookings::events_are_delivered_after_commit,
    bookings::events_of_a_rolled_back_transaction_are_never_delivered,
    bookings::events_arrive_in_commit_order,
    bookings::concurrent_bookings_of_one_slot_commit_once,
    bookings::concurrent_back_to_back_bookings_all_commit,
    bookings::due_releases_are_locked_and_released_in_one_write,
    bookings::update_bookings_keeps_the_overlap_rule,
    booking_series::a_series_and_its_occurrences_round_trip,
    booking_series::a_series_is_written_whole_or_not_at_all,
    booking_series::the_occurrences_of_several_series_are_read_together,
    mail::invitations_round_trip,
    mail::password_resets_round_trip,
    mail::unique_link_tokens,
    mail::emails_round_trip,
    mail::outbox_rolls_back_with_its_transaction,
    mail::claim_emails_oldest_first_with_a_lease,
    mail::sent_emails_leave_the_backlog,
    mail::abandoned_emails_round_trip,
    mail::abandoned_emails_are_never_claimed,
    mail::abandoned_emails_leave_the_backlog,
    mail::concurrent_claims_never_share_a_message,
    rehash::device_token_hash_compare_and_set,
    rehash::device_token_hash_compare_and_set_keeps_a_revocation,
    rehash::device_token_hash_compare_and_set_to_a_taken_hash,
    rehash::booking_code_hash_compare_and_set,
    rehash::booking_code_hash_compare_and_set_keeps_a_deactivation,
    rehash::booking_code_hash_compare_and_set_to_a_taken_hash,
);
