//! An administrator's changes to one person raced against each other and against the person's
//! own edits: a deactivation always holds, and every acknowledged change is still there.

use concierge_tests::CHOSEN_PASSWORD;
use serde_json::json;

use super::support::{
    DEACTIVATE, Stage, UPDATE_USER, acked_or, call, race, refusal, rounds, sorted_ids, text,
};

const RESET_CODE: &str =
    "mutation($u: ID!) { resetBookingCode(input: {userId: $u}) { bookingCode } }";
const CODE_LOGIN: &str = "mutation($o: ID!, $c: String!) { loginWithBookingCode(input:
    {organizationId: $o, code: $c}) { user { id } } }";
const RESET_PASSWORD: &str = "mutation($u: ID!, $p: String!) { resetUserPassword(input:
    {userId: $u, method: SET, newPassword: $p}) { user { id } } }";
const UPDATE_GROUP: &str = "mutation($i: UpdateSiteGroupInput!) { updateSiteGroup(input: $i) {
    siteGroup { id sites { id } } } }";
const GROUPS: &str = "query($o: ID!) { siteGroups(organizationId: $o) { id sites { id } } }";

/// Rename vs `deactivateUser`: the person ends INACTIVE, the rename survives (or was refused),
/// and their access token no longer answers `me`.
pub async fn rename_vs_deactivate(stage: &Stage) {
    let (_, org) = stage.company("Rename Deactivate").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let (id, token) = stage.person(&org, &format!("rd{round}"), &staff).await;
        let name = format!("Renamed{round}");
        let (rename, deactivate) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_USER,
                json!({"i": {"id": id, "firstName": name}}),
            ),
            call(&org.admin_token, DEACTIVATE, json!({"u": id})),
        )
        .await;
        let renamed = acked_or(
            round,
            "updateUser",
            &rename,
            &["NOT_FOUND", "VALIDATION", "CONFLICT"],
        );
        let deactivated = acked_or(round, "deactivateUser", &deactivate, &["CONFLICT"]);
        let user = stage.read_user(round, &org.admin_token, &id).await;
        if deactivated {
            assert_eq!(
                user["status"], "INACTIVE",
                "round {round}: the acknowledged deactivation was undone by the rename: {user:#}"
            );
            assert!(
                !stage.still_signed_in(round, &token).await,
                "round {round}: a deactivated person's token still answers `me`: {user:#}"
            );
        }
        if renamed {
            assert_eq!(
                user["firstName"],
                json!(name),
                "round {round}: the acknowledged rename was lost: {user:#}"
            );
        }
    })
    .await;
}

/// Rename vs `resetBookingCode`: the rename survives; only the new code signs in.
pub async fn rename_vs_reset_booking_code(stage: &Stage) {
    let (_, org) = stage.company("Rename Code").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let created = stage
            .create_user(
                &org.admin_token,
                &org.id,
                json!({"firstName": "Before", "lastName": "Race", "username": format!("rc{round}"),
                    "profileId": staff}),
            )
            .await;
        let id = text(&created["user"]["id"]);
        let old_code = text(&created["credentials"]["bookingCode"]);
        let name = format!("Renamed{round}");
        let (rename, reset) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_USER,
                json!({"i": {"id": id, "firstName": name}}),
            ),
            call(&org.admin_token, RESET_CODE, json!({"u": id})),
        )
        .await;
        let renamed = acked_or(round, "updateUser", &rename, &["CONFLICT"]);
        let was_reset = acked_or(round, "resetBookingCode", &reset, &["CONFLICT"]);
        let user = stage.read_user(round, &org.admin_token, &id).await;
        if renamed {
            assert_eq!(
                user["firstName"],
                json!(name),
                "round {round}: the acknowledged rename was lost to the code reset: {user:#}"
            );
        }
        let old = stage
            .ask(None, CODE_LOGIN, json!({"o": org.id, "c": old_code}))
            .await;
        if was_reset {
            let new_code = text(&reset.data["resetBookingCode"]["bookingCode"]);
            let new = stage
                .ask(None, CODE_LOGIN, json!({"o": org.id, "c": new_code}))
                .await;
            assert!(
                new.errors.is_empty(),
                "round {round}: the code just handed out does not sign in: {:?}; the old one: {:?}",
                refusal(&new),
                refusal(&old)
            );
            assert_eq!(
                old.code(),
                "UNAUTHENTICATED",
                "round {round}: the replaced code still signs in"
            );
        } else {
            assert!(old.errors.is_empty(), "round {round}: {:?}", refusal(&old));
        }
    })
    .await;
}

/// Rename vs `resetUserPassword`: the rename survives; the new password works, the old does not.
pub async fn rename_vs_reset_password(stage: &Stage) {
    let (_, org) = stage.company("Rename Password").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let login = format!("rp{round}");
        let (id, token) = stage.person(&org, &login, &staff).await;
        let name = format!("Renamed{round}");
        let pin = format!("{}", 314_159 + round * 7);
        let (rename, reset) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_USER,
                json!({"i": {"id": id, "firstName": name}}),
            ),
            call(&org.admin_token, RESET_PASSWORD, json!({"u": id, "p": pin})),
        )
        .await;
        let renamed = acked_or(round, "updateUser", &rename, &["CONFLICT"]);
        let was_reset = acked_or(round, "resetUserPassword", &reset, &["CONFLICT"]);
        let user = stage.read_user(round, &org.admin_token, &id).await;
        if renamed {
            assert_eq!(
                user["firstName"],
                json!(name),
                "round {round}: the acknowledged rename was lost to the password reset: {user:#}"
            );
        }
        if was_reset {
            assert_eq!(
                user["mustChangePassword"],
                json!(true),
                "round {round}: the reset's must-change flag was lost: {user:#}"
            );
            let new = stage.sign_in(&login, &pin).await;
            let old = stage.sign_in(&login, CHOSEN_PASSWORD).await;
            assert!(
                new.errors.is_empty(),
                "round {round}: the password just set does not sign in: {:?} (the old one: {:?})",
                refusal(&new),
                refusal(&old)
            );
            assert_eq!(
                old.code(),
                "UNAUTHENTICATED",
                "round {round}: the replaced password still signs in"
            );
            assert!(
                !stage.still_signed_in(round, &token).await,
                "round {round}: a session from before the reset survived it"
            );
        }
    })
    .await;
}

/// `updateUser(profileId)` vs `deactivateUser`: INACTIVE at the end; the profile change
/// survives or was refused.
pub async fn profile_change_vs_deactivate(stage: &Stage) {
    let (_, org) = stage.company("Profile Deactivate").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    let other = stage.staff_profile(&org, "Other staff").await;
    rounds(async |round| {
        let (id, token) = stage.person(&org, &format!("pd{round}"), &staff).await;
        let (change, deactivate) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_USER,
                json!({"i": {"id": id, "profileId": other}}),
            ),
            call(&org.admin_token, DEACTIVATE, json!({"u": id})),
        )
        .await;
        let changed = acked_or(
            round,
            "updateUser(profileId)",
            &change,
            &["CONFLICT", "VALIDATION"],
        );
        let deactivated = acked_or(round, "deactivateUser", &deactivate, &["CONFLICT"]);
        let user = stage.read_user(round, &org.admin_token, &id).await;
        if deactivated {
            assert_eq!(
                user["status"], "INACTIVE",
                "round {round}: the acknowledged deactivation was undone by the profile change: \
                 {user:#}"
            );
            assert!(
                !stage.still_signed_in(round, &token).await,
                "round {round}: a deactivated person's token still answers `me`"
            );
        }
        if changed {
            assert_eq!(
                user["profile"]["id"],
                json!(other),
                "round {round}: the acknowledged profile change was lost: {user:#}"
            );
        }
    })
    .await;
}

/// A self-edit (language) vs `deactivateUser`: INACTIVE at the end, and the person's token no
/// longer answers `me`.
pub async fn self_edit_vs_deactivate(stage: &Stage) {
    let (_, org) = stage.company("Self Edit").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let (id, token) = stage.person(&org, &format!("se{round}"), &staff).await;
        let (edit, deactivate) = race(
            &stage.app,
            call(
                &token,
                UPDATE_USER,
                json!({"i": {"id": id, "language": "FR"}}),
            ),
            call(&org.admin_token, DEACTIVATE, json!({"u": id})),
        )
        .await;
        let edited = acked_or(
            round,
            "updateUser (self)",
            &edit,
            &["UNAUTHENTICATED", "FORBIDDEN", "CONFLICT"],
        );
        let deactivated = acked_or(round, "deactivateUser", &deactivate, &["CONFLICT"]);
        let user = stage.read_user(round, &org.admin_token, &id).await;
        if deactivated {
            assert_eq!(
                user["status"], "INACTIVE",
                "round {round}: the person's own edit undid their deactivation: {user:#}"
            );
            assert!(
                !stage.still_signed_in(round, &token).await,
                "round {round}: the deactivated person's token still answers `me`: {user:#}"
            );
        }
        if edited {
            assert_eq!(
                user["language"], "FR",
                "round {round}: the acknowledged self-edit was lost: {user:#}"
            );
        }
    })
    .await;
}

/// `updateSiteGroup` (its sites) vs `updateUser(siteGroupIds)` (granting that group): both
/// acknowledged changes are there, and the person's effective sites are what the group grants.
pub async fn site_group_change_vs_grant(stage: &Stage) {
    let (_, org) = stage.company("Groups Grants").await;
    let admin = org.admin_token.clone();
    let staff = stage.staff_profile(&org, "Staff").await;
    let north = stage.create_site(&admin, &org.id, "North").await;
    let south = stage.create_site(&admin, &org.id, "South").await;
    rounds(async |round| {
        let group = stage
            .create_site_group(&admin, &org.id, &format!("Group {round}"), &[&north])
            .await;
        let (id, _) = stage.person(&org, &format!("sg{round}"), &staff).await;
        let (regroup, grant) = race(
            &stage.app,
            call(
                &admin,
                UPDATE_GROUP,
                json!({"i": {"id": group, "siteIds": [north, south]}}),
            ),
            call(
                &admin,
                UPDATE_USER,
                json!({"i": {"id": id, "siteGroupIds": [group]}}),
            ),
        )
        .await;
        let regrouped = acked_or(round, "updateSiteGroup", &regroup, &["CONFLICT"]);
        let granted = acked_or(round, "updateUser(siteGroupIds)", &grant, &["CONFLICT"]);
        let user = stage.read_user(round, &admin, &id).await;
        let groups = stage.ask(Some(&admin), GROUPS, json!({"o": org.id})).await;
        assert!(groups.errors.is_empty(), "round {round}: {groups:#?}");
        let this_group = groups.data["siteGroups"]
            .as_array()
            .and_then(|all| all.iter().find(|g| g["id"] == json!(group)))
            .unwrap_or_else(|| panic!("round {round}: group {group} is gone"))
            .clone();
        let group_sites = sorted_ids(&this_group["sites"]);
        if regrouped {
            let mut expected = vec![north.clone(), south.clone()];
            expected.sort();
            assert_eq!(
                group_sites, expected,
                "round {round}: the acknowledged change of the group's sites was lost"
            );
        }
        if granted {
            assert_eq!(
                sorted_ids(&user["siteGroups"]),
                vec![group.clone()],
                "round {round}: the acknowledged grant of the group was lost: {user:#}"
            );
            assert_eq!(
                sorted_ids(&user["effectiveSites"]),
                group_sites,
                "round {round}: the person's effective sites are not what the group grants: \
                 {user:#}, group {this_group:#}"
            );
        }
    })
    .await;
}
