//! Profiles deleted while they are being changed, made the default or given to someone: a
//! deleted profile never comes back, and no organization or person is left holding one.

use serde_json::{Value, json};

use super::support::{Stage, UPDATE_USER, acked_or, call, race, refusal, rounds};

const UPDATE_PROFILE: &str = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) {
    profile { id name } } }";
const DELETE_PROFILE: &str = "mutation($id: ID!) { deleteProfile(input: {id: $id}) { deletedId } }";
const SET_DEFAULT: &str = "mutation($o: ID!, $p: ID!) { setDefaultProfile(input:
    {organizationId: $o, profileId: $p}) { organization { id defaultProfile { id } } } }";
const PROFILES: &str = "query($o: ID!) { profiles(organizationId: $o) { id name isDefault } }";
const DEFAULT: &str = "query($o: ID!) { organization(id: $o) { defaultProfile { id name } } }";

async fn profiles(stage: &Stage, round: usize, token: &str, org: &str) -> Vec<Value> {
    let r = stage.ask(Some(token), PROFILES, json!({"o": org})).await;
    assert!(r.errors.is_empty(), "round {round}: profiles: {r:#?}");
    r.data["profiles"].as_array().expect("a list").clone()
}

fn find<'a>(all: &'a [Value], id: &str) -> Option<&'a Value> {
    all.iter().find(|p| p["id"] == json!(id))
}

/// `updateProfile` vs `deleteProfile`: a deleted profile stays deleted (an update acknowledged
/// around the deletion never brings it back), a kept one holds the acknowledged update.
pub async fn update_vs_delete(stage: &Stage) {
    let (_, org) = stage.company("Profile Update Delete").await;
    rounds(async |round| {
        let profile = stage.staff_profile(&org, &format!("Doomed {round}")).await;
        let name = format!("Renamed {round}");
        let (update, delete) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_PROFILE,
                json!({"i": {"id": profile, "name": name}}),
            ),
            call(&org.admin_token, DELETE_PROFILE, json!({"id": profile})),
        )
        .await;
        let updated = acked_or(round, "updateProfile", &update, &["NOT_FOUND", "CONFLICT"]);
        let deleted = acked_or(round, "deleteProfile", &delete, &["CONFLICT"]);
        let all = profiles(stage, round, &org.admin_token, &org.id).await;
        let found = find(&all, &profile);
        if deleted {
            assert!(
                found.is_none(),
                "round {round}: the deleted profile is back (update acknowledged: {updated}): \
                 {found:#?}"
            );
        } else {
            let found = found.unwrap_or_else(|| {
                panic!("round {round}: the profile is gone though its deletion was refused")
            });
            if updated {
                assert_eq!(
                    found["name"],
                    json!(name),
                    "round {round}: the acknowledged update was lost: {found:#}"
                );
            }
        }
    })
    .await;
}

/// `setDefaultProfile` vs `deleteProfile` of the same profile: never both acknowledged, and the
/// organization's default profile always exists afterwards.
pub async fn set_default_vs_delete(stage: &Stage) {
    let (_, org) = stage.company("Default Delete").await;
    rounds(async |round| {
        let profile = stage.staff_profile(&org, &format!("Default {round}")).await;
        let (set, delete) = race(
            &stage.app,
            call(
                &org.admin_token,
                SET_DEFAULT,
                json!({"o": org.id, "p": profile}),
            ),
            call(&org.admin_token, DELETE_PROFILE, json!({"id": profile})),
        )
        .await;
        let was_set = acked_or(
            round,
            "setDefaultProfile",
            &set,
            &["NOT_FOUND", "CONFLICT", "VALIDATION"],
        );
        let deleted = acked_or(round, "deleteProfile", &delete, &["CONFLICT"]);
        assert!(
            !(was_set && deleted),
            "round {round}: the profile was both made the default and deleted"
        );
        let default = stage
            .ask(Some(&org.admin_token), DEFAULT, json!({"o": org.id}))
            .await;
        assert!(
            default.errors.is_empty(),
            "round {round}: the organization's default profile cannot be read \
             (setDefaultProfile {:?}, deleteProfile {:?}): {default:#?}",
            refusal(&set),
            refusal(&delete)
        );
        let default_id = default.data["organization"]["defaultProfile"]["id"]
            .as_str()
            .expect("a default profile")
            .to_owned();
        let all = profiles(stage, round, &org.admin_token, &org.id).await;
        assert!(
            find(&all, &default_id).is_some(),
            "round {round}: the default profile {default_id} does not exist"
        );
        if was_set {
            assert_eq!(
                default_id, profile,
                "round {round}: the acknowledged default was lost"
            );
        }
    })
    .await;
}

/// `updateUser(profileId)` vs `deleteProfile` of that profile: never both acknowledged, and the
/// person's profile exists afterwards.
pub async fn assign_vs_delete(stage: &Stage) {
    let (_, org) = stage.company("Assign Delete").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let (id, _) = stage.person(&org, &format!("ad{round}"), &staff).await;
        let profile = stage
            .staff_profile(&org, &format!("Fleeting {round}"))
            .await;
        let (assign, delete) = race(
            &stage.app,
            call(
                &org.admin_token,
                UPDATE_USER,
                json!({"i": {"id": id, "profileId": profile}}),
            ),
            call(&org.admin_token, DELETE_PROFILE, json!({"id": profile})),
        )
        .await;
        let assigned = acked_or(
            round,
            "updateUser(profileId)",
            &assign,
            &["NOT_FOUND", "CONFLICT"],
        );
        let deleted = acked_or(round, "deleteProfile", &delete, &["CONFLICT"]);
        assert!(
            !(assigned && deleted),
            "round {round}: the profile was both given to someone and deleted"
        );
        let user = stage.read_user(round, &org.admin_token, &id).await;
        let held = user["profile"]["id"]
            .as_str()
            .expect("a profile")
            .to_owned();
        let all = profiles(stage, round, &org.admin_token, &org.id).await;
        assert!(
            find(&all, &held).is_some(),
            "round {round}: the person holds a profile that does not exist: {user:#}"
        );
        if assigned {
            assert_eq!(
                held, profile,
                "round {round}: the acknowledged assignment was lost"
            );
        }
    })
    .await;
}
