//! Invitations decided twice at once: an approval raced against a rejection of the same pending
//! collaborator, and an acceptance raced against the revocation of its link. The end state is
//! one that some order of the two explains, and an acknowledged revocation kills the link.

use serde_json::{Value, json};

use super::support::{
    Stage, acked, acked_or, anonymous, call, never_internal, race, refusal, rounds, text,
};

const INVITE: &str = "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
    user { id status } invitation { id status } } }";
const APPROVE: &str = "mutation($u: ID!) { approveCollaborator(input: {userId: $u}) {
    user { status } invitation { id } } }";
const REJECT: &str =
    "mutation($u: ID!) { rejectCollaborator(input: {userId: $u}) { user { status } } }";
const REVOKE: &str = "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) {
    invitation { status } } }";
const ACCEPT: &str = "mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t,
    password: $p}) { accessToken user { status } } }";
const INVITATIONS: &str = "query($o: ID!) { invitations(organizationId: $o) { id status } }";

async fn invitation_status(stage: &Stage, round: usize, token: &str, org: &str, id: &str) -> Value {
    let r = stage.ask(Some(token), INVITATIONS, json!({"o": org})).await;
    assert!(r.errors.is_empty(), "round {round}: invitations: {r:#?}");
    r.data["invitations"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|i| i["id"] == json!(id))
        .map(|i| i["status"].clone())
        .unwrap_or_else(|| panic!("round {round}: invitation {id} is not listed"))
}

/// `approveCollaborator` vs `rejectCollaborator` of one pending person: a rejection that was
/// acknowledged leaves the person INACTIVE with no working link (an approval acknowledged
/// beside it came first, and its link died with the rejection); otherwise the approval's link
/// works.
pub async fn approve_vs_reject(stage: &Stage) {
    let (_, org) = stage.company("Approve Reject").await;
    let collaborators = stage.staff_profile(&org, "Collaborators").await;
    let (_, manager) = stage
        .member(
            &org.admin_token,
            &org.id,
            json!({"users": "INVITE_WITH_APPROVAL", "profiles": "READ", "bookings": "SELF",
                "modules": ["directory", "rooms"]}),
            json!({}),
        )
        .await;
    rounds(async |round| {
        let email = format!("pending{round}@approve.test");
        let r = stage
            .ask(
                Some(&manager),
                INVITE,
                json!({"i": {"organizationId": org.id, "email": email, "firstName": "Pending",
                    "lastName": "Person", "profileId": collaborators}}),
            )
            .await;
        let id = text(&r.ok()["inviteCollaborator"]["user"]["id"]);
        assert_eq!(
            r.ok()["inviteCollaborator"]["user"]["status"],
            "PENDING_APPROVAL"
        );
        let (approve, reject) = race(
            &stage.app,
            call(&org.admin_token, APPROVE, json!({"u": id})),
            call(&org.admin_token, REJECT, json!({"u": id})),
        )
        .await;
        let approved = acked_or(
            round,
            "approveCollaborator",
            &approve,
            &["VALIDATION", "CONFLICT"],
        );
        let rejected = acked_or(
            round,
            "rejectCollaborator",
            &reject,
            &["VALIDATION", "CONFLICT"],
        );
        assert!(
            approved || rejected,
            "round {round}: both refused: {:?} {:?}",
            refusal(&approve),
            refusal(&reject)
        );
        let user = stage.read_user(round, &org.admin_token, &id).await;
        let expected = if rejected { "INACTIVE" } else { "INVITED" };
        assert_eq!(
            user["status"],
            expected,
            "round {round}: approval {:?}, rejection {:?}, yet the person is {}",
            refusal(&approve),
            refusal(&reject),
            user["status"]
        );
        if approved {
            let link = stage.link_token(&email).await;
            let accept = stage
                .ask(None, ACCEPT, json!({"t": link, "p": "joining-at-last-1"}))
                .await;
            never_internal(round, "acceptInvitation", &accept);
            if rejected {
                assert!(
                    !acked(&accept),
                    "round {round}: the rejected person joined with the approval's link"
                );
            } else {
                assert!(
                    acked(&accept),
                    "round {round}: the approved person's link does not work: {:?}",
                    refusal(&accept)
                );
            }
        }
    })
    .await;
}

/// `acceptInvitation` vs `revokeInvitation` of that link: never both acknowledged; an
/// acknowledged revocation means the link did not work and the person did not join.
pub async fn accept_vs_revoke(stage: &Stage) {
    let (_, org) = stage.company("Accept Revoke").await;
    let collaborators = stage.staff_profile(&org, "Collaborators").await;
    rounds(async |round| {
        let email = format!("invited{round}@revoke.test");
        let r = stage
            .ask(
                Some(&org.admin_token),
                INVITE,
                json!({"i": {"organizationId": org.id, "email": email, "firstName": "Invited",
                    "lastName": "Person", "profileId": collaborators}}),
            )
            .await;
        let user_id = text(&r.ok()["inviteCollaborator"]["user"]["id"]);
        let invitation = text(&r.ok()["inviteCollaborator"]["invitation"]["id"]);
        let link = stage.link_token(&email).await;
        let password = format!("joining-now-{round}");
        let (accept, revoke) = race(
            &stage.app,
            anonymous(ACCEPT, json!({"t": link, "p": password})),
            call(&org.admin_token, REVOKE, json!({"i": invitation})),
        )
        .await;
        let accepted = acked_or(
            round,
            "acceptInvitation",
            &accept,
            &["VALIDATION", "CONFLICT"],
        );
        let revoked = acked_or(
            round,
            "revokeInvitation",
            &revoke,
            &["VALIDATION", "CONFLICT"],
        );
        assert!(
            !(accepted && revoked),
            "round {round}: the link was both accepted and revoked"
        );
        let user = stage.read_user(round, &org.admin_token, &user_id).await;
        let status = invitation_status(stage, round, &org.admin_token, &org.id, &invitation).await;
        let signed_in = stage.sign_in(&email, &password).await;
        never_internal(round, "login", &signed_in);
        if revoked {
            assert_eq!(
                (user["status"].clone(), status.clone(), acked(&signed_in)),
                (json!("INVITED"), json!("REVOKED"), false),
                "round {round}: the revocation was acknowledged, yet: person {}, invitation {}, \
                 signs in: {}",
                user["status"],
                status,
                acked(&signed_in)
            );
        }
        if accepted {
            assert_eq!(
                (user["status"].clone(), status.clone(), acked(&signed_in)),
                (json!("ACTIVE"), json!("ACCEPTED"), true),
                "round {round}: the acceptance was acknowledged, yet: person {}, invitation {}, \
                 signs in: {}",
                user["status"],
                status,
                acked(&signed_in)
            );
        }
    })
    .await;
}
