//! Diesel's view of the tables created by `migrations/`. Kept by hand (no `diesel print-schema`
//! step in the build); the conformance suite round-trips every column, so a drift shows there.

diesel::table! {
    organizations (id) {
        id -> Uuid,
        kind -> Text,
        name -> Text,
        name_lower -> Text,
        parent_id -> Nullable<Uuid>,
        admin_email -> Nullable<Text>,
        external_contact -> Nullable<Text>,
        default_language -> Text,
        time_zone -> Text,
        default_profile_id -> Uuid,
        price_list_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    profiles (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        built_in -> Bool,
        perm_users -> Text,
        perm_profiles -> Text,
        perm_sites -> Text,
        perm_rooms -> Text,
        perm_bookings -> Text,
        perm_billing -> Text,
        perm_clients -> Text,
        perm_audit -> Text,
        modules -> Array<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    price_lists (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        is_default -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sites (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        time_zone -> Text,
        address -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    site_groups (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    site_group_sites (site_group_id, site_id) {
        site_group_id -> Uuid,
        site_id -> Uuid,
    }
}

diesel::table! {
    rooms (id) {
        id -> Uuid,
        site_id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        capacity -> Nullable<Int4>,
        equipment -> Array<Text>,
        bookable -> Bool,
        slot_minutes -> Int4,
        min_minutes -> Int4,
        max_minutes -> Int4,
        horizon_days -> Int4,
        created_at -> Timestamptz,
        check_in_required -> Bool,
        release_after_minutes -> Int4,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        organization_id -> Uuid,
        first_name -> Text,
        last_name -> Text,
        first_name_lower -> Text,
        last_name_lower -> Text,
        email -> Nullable<Text>,
        username -> Nullable<Text>,
        language -> Text,
        status -> Text,
        profile_id -> Uuid,
        default_site_id -> Nullable<Uuid>,
        external_contact -> Nullable<Text>,
        price_list_id -> Nullable<Uuid>,
        photo_url -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        must_change_password -> Bool,
        booking_code_hash -> Nullable<Text>,
        session_epoch -> Int8,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_sites (user_id, site_id) {
        user_id -> Uuid,
        site_id -> Uuid,
    }
}

diesel::table! {
    user_site_groups (user_id, site_group_id) {
        user_id -> Uuid,
        site_group_id -> Uuid,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        refresh_token_hash -> Text,
        previous_token_hash -> Nullable<Text>,
        epoch -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        organization_id -> Nullable<Uuid>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    bookings (id) {
        id -> Uuid,
        room_id -> Uuid,
        site_id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        created_by -> Uuid,
        title -> Nullable<Text>,
        start_at -> Timestamptz,
        end_at -> Timestamptz,
        source -> Text,
        status -> Text,
        created_at -> Timestamptz,
        checked_in_at -> Nullable<Timestamptz>,
        release_at -> Nullable<Timestamptz>,
        series_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    booking_series (id) {
        id -> Uuid,
        organization_id -> Uuid,
        room_id -> Uuid,
        site_id -> Uuid,
        user_id -> Uuid,
        created_by -> Uuid,
        title -> Nullable<Text>,
        frequency -> Text,
        interval -> Int4,
        by_day -> Array<Text>,
        by_month_day -> Array<Int4>,
        until -> Nullable<Date>,
        count -> Nullable<Int4>,
        local_start -> Timestamp,
        duration_minutes -> Int4,
        time_zone -> Text,
        skipped -> Array<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    devices (id) {
        id -> Uuid,
        organization_id -> Uuid,
        site_id -> Uuid,
        room_id -> Nullable<Uuid>,
        name -> Text,
        token_hash -> Text,
        registered_by -> Uuid,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    booking_events (seq) {
        seq -> Int8,
        kind -> Text,
        booking_id -> Nullable<Uuid>,
        at -> Timestamptz,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        email -> Text,
        token_hash -> Text,
        accepted_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        expires_at -> Timestamptz,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    password_resets (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Text,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> Uuid,
        organization_id -> Nullable<Uuid>,
        recipient -> Text,
        language -> Text,
        kind -> Text,
        sealed_params -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        abandoned_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    throttle_attempts (id) {
        id -> Int8,
        throttle_key -> Text,
        attempted_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    second_factors (user_id) {
        user_id -> Uuid,
        sealed_secret -> Text,
        confirmed_at -> Nullable<Timestamptz>,
        last_used_step -> Nullable<Int8>,
        recovery_code_hashes -> Array<Text>,
        challenge_hash -> Nullable<Text>,
        challenge_expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    second_factor_policies (organization_id) {
        organization_id -> Uuid,
        required -> Bool,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Uuid,
        organization_id -> Uuid,
        name -> Text,
        token_hash -> Text,
        profile_id -> Uuid,
        site_group_id -> Nullable<Uuid>,
        site_id -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    calendar_feeds (id) {
        id -> Uuid,
        organization_id -> Uuid,
        user_id -> Uuid,
        room_id -> Nullable<Uuid>,
        token_hash -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sso_connections (organization_id) {
        organization_id -> Uuid,
        issuer -> Text,
        client_id -> Text,
        sealed_client_secret -> Text,
        allowed_domains -> Array<Text>,
        provisioning -> Text,
        default_site_id -> Nullable<Uuid>,
        require_sso -> Bool,
        break_glass_user_ids -> Array<Uuid>,
        configured_by -> Uuid,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sso_identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> Uuid,
        organization_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sso_logins (id) {
        id -> Uuid,
        organization_id -> Uuid,
        stage -> Text,
        secret_hash -> Text,
        issuer -> Text,
        nonce -> Text,
        sealed_pkce_verifier -> Text,
        return_to -> Text,
        user_id -> Nullable<Uuid>,
        client_address -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(booking_events -> bookings (booking_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    profiles,
    price_lists,
    sites,
    site_groups,
    site_group_sites,
    rooms,
    users,
    user_sites,
    user_site_groups,
    sessions,
    audit_events,
    bookings,
    booking_series,
    devices,
    booking_events,
    invitations,
    password_resets,
    outbox_emails,
    throttle_attempts,
    second_factors,
    second_factor_policies,
    scim_tokens,
    calendar_feeds,
    sso_connections,
    sso_identities,
    sso_logins,
);
