//! Single use means single use: one password-reset link and one invitation link, each used ten
//! times at once. Exactly one use succeeds, the others get the answer a second use gets, and
//! the password of the one that succeeded is the one that signs in.

use serde_json::json;

use super::support::{
    Stage, acked, anonymous, describe, never_internal, race_all, refusal, rounds, text,
};

const REQUEST_RESET: &str =
    "mutation($l: String!) { requestPasswordReset(input: {login: $l}) { ok } }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(input: {token: $t,
    newPassword: $p}) { ok } }";
const INVITE: &str = "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
    invitation { id } } }";
const ACCEPT: &str = "mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t,
    password: $p}) { accessToken } }";

const USES: usize = 10;

/// The passwords of the ten uses of round `round`.
fn passwords(round: usize) -> Vec<String> {
    (0..USES)
        .map(|i| format!("race-{round}-use-{i}-secret"))
        .collect()
}

/// Exactly one of `answers` succeeded, the others were answered as `second_use` was; returns
/// the index of the one that succeeded.
#[track_caller]
fn exactly_one(
    round: usize,
    what: &str,
    answers: &[concierge_tests::Gql],
    second_use: &concierge_tests::Gql,
) -> usize {
    for answer in answers {
        never_internal(round, what, answer);
    }
    never_internal(round, what, second_use);
    let winners: Vec<usize> = (0..answers.len()).filter(|&i| acked(&answers[i])).collect();
    assert_eq!(
        winners.len(),
        1,
        "round {round}: {} of {USES} concurrent uses of one {what} link succeeded: {:?}",
        winners.len(),
        answers.iter().map(describe).collect::<Vec<_>>()
    );
    assert!(
        !acked(second_use),
        "round {round}: a later use of the {what} link succeeded"
    );
    for answer in answers.iter().filter(|a| !acked(a)) {
        assert_eq!(
            refusal(answer),
            refusal(second_use),
            "round {round}: a losing use of the {what} link is not answered as a second use is"
        );
    }
    winners[0]
}

/// Ten concurrent uses of one password-reset link: exactly one succeeds, and its password is
/// the one that signs in.
pub async fn one_reset_link_used_ten_times(stage: &Stage) {
    let (_, org) = stage.company("Reset Ten").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let email = format!("forgot{round}@reset.test");
        stage
            .create_user(
                &org.admin_token,
                &org.id,
                json!({"firstName": "For", "lastName": "Got", "email": email, "profileId": staff}),
            )
            .await;
        let r = stage.ask(None, REQUEST_RESET, json!({"l": email})).await;
        assert_eq!(r.ok()["requestPasswordReset"]["ok"], json!(true));
        let link = stage.link_token(&email).await;
        let passwords = passwords(round);
        let uses = passwords
            .iter()
            .map(|p| anonymous(RESET, json!({"t": link, "p": p})))
            .collect();
        let answers = race_all(&stage.app, uses).await;
        let second_use = stage
            .ask(None, RESET, json!({"t": link, "p": "one-more-time-secret"}))
            .await;
        let winner = exactly_one(round, "password-reset", &answers, &second_use);
        let good = stage.sign_in(&email, &passwords[winner]).await;
        assert!(
            acked(&good),
            "round {round}: the password of the acknowledged reset does not sign in: {:?}",
            refusal(&good)
        );
        let loser = &passwords[(winner + 1) % USES];
        let bad = stage.sign_in(&email, loser).await;
        assert!(
            !acked(&bad),
            "round {round}: a refused reset's password signs in"
        );
    })
    .await;
}

/// Ten concurrent acceptances of one invitation link: exactly one succeeds, and its password is
/// the one that signs in.
pub async fn one_invitation_link_used_ten_times(stage: &Stage) {
    let (_, org) = stage.company("Accept Ten").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let email = format!("invited{round}@accept.test");
        let r = stage
            .ask(
                Some(&org.admin_token),
                INVITE,
                json!({"i": {"organizationId": org.id, "email": email, "firstName": "In",
                    "lastName": "Vited", "profileId": staff}}),
            )
            .await;
        text(&r.ok()["inviteCollaborator"]["invitation"]["id"]);
        let link = stage.link_token(&email).await;
        let passwords = passwords(round);
        let uses = passwords
            .iter()
            .map(|p| anonymous(ACCEPT, json!({"t": link, "p": p})))
            .collect();
        let answers = race_all(&stage.app, uses).await;
        let second_use = stage
            .ask(
                None,
                ACCEPT,
                json!({"t": link, "p": "one-more-time-secret"}),
            )
            .await;
        let winner = exactly_one(round, "invitation", &answers, &second_use);
        let good = stage.sign_in(&email, &passwords[winner]).await;
        assert!(
            acked(&good),
            "round {round}: the password of the acknowledged acceptance does not sign in: {:?}",
            refusal(&good)
        );
        let loser = &passwords[(winner + 1) % USES];
        let bad = stage.sign_in(&email, loser).await;
        assert!(
            !acked(&bad),
            "round {round}: a refused acceptance's password signs in"
        );
    })
    .await;
}
