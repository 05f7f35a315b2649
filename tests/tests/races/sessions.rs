//! Sessions under concurrent changes: a password change raced against a sign-out and against a
//! deactivation, and one refresh token used ten times at once.

use concierge_tests::CHOSEN_PASSWORD;
use serde_json::json;

use super::support::{
    DEACTIVATE, LOGIN, REFRESH, Stage, acked, acked_or, anonymous, call, describe, never_internal,
    race, race_all, refusal, rounds, text,
};

const CHANGE_PASSWORD: &str = "mutation($c: String!, $n: String!) { changePassword(input:
    {currentPassword: $c, newPassword: $n}) { accessToken refreshToken } }";
const LOGOUT: &str = "mutation { logout(input: {}) { ok } }";

/// `changePassword` vs `logout` of the same session: the old session's refresh token is dead
/// afterwards, and the password that was acknowledged is the one that works.
pub async fn change_password_vs_logout(stage: &Stage) {
    let (_, org) = stage.company("Change Logout").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let login = format!("cl{round}");
        stage.person(&org, &login, &staff).await;
        let session = stage.sign_in(&login, CHOSEN_PASSWORD).await;
        let access = text(&session.ok()["login"]["accessToken"]);
        let refresh = text(&session.ok()["login"]["refreshToken"]);
        let new_password = format!("new-secret-{round}-x");
        let (change, logout) = race(
            &stage.app,
            call(
                &access,
                CHANGE_PASSWORD,
                json!({"c": CHOSEN_PASSWORD, "n": new_password}),
            ),
            call(&access, LOGOUT, json!({})),
        )
        .await;
        let changed = acked_or(
            round,
            "changePassword",
            &change,
            &["UNAUTHENTICATED", "CONFLICT"],
        );
        let logged_out = acked_or(round, "logout", &logout, &["UNAUTHENTICATED", "CONFLICT"]);
        assert!(
            changed || logged_out,
            "round {round}: both were refused: {:?} {:?}",
            refusal(&change),
            refusal(&logout)
        );
        let reuse = stage.ask(None, REFRESH, json!({"t": refresh})).await;
        never_internal(round, "refreshSession", &reuse);
        assert!(
            !acked(&reuse),
            "round {round}: the old session's refresh token still works (changePassword {:?}, \
             logout {:?})",
            refusal(&change),
            refusal(&logout)
        );
        let (works, fails) = if changed {
            (new_password.as_str(), CHOSEN_PASSWORD)
        } else {
            (CHOSEN_PASSWORD, new_password.as_str())
        };
        let good = stage.sign_in(&login, works).await;
        assert!(
            acked(&good),
            "round {round}: the password that should work does not (changePassword {:?}): {:?}",
            refusal(&change),
            refusal(&good)
        );
        let bad = stage.sign_in(&login, fails).await;
        assert_eq!(
            bad.code(),
            "UNAUTHENTICATED",
            "round {round}: the other password works too (changePassword {:?})",
            refusal(&change)
        );
    })
    .await;
}

/// `changePassword` vs `deactivateUser`: the person ends INACTIVE and no token of theirs (the
/// old one, nor the pair the password change handed out) answers afterwards.
pub async fn change_password_vs_deactivate(stage: &Stage) {
    let (_, org) = stage.company("Change Deactivate").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let login = format!("cd{round}");
        let (id, token) = stage.person(&org, &login, &staff).await;
        let new_password = format!("new-secret-{round}-y");
        let (change, deactivate) = race(
            &stage.app,
            call(
                &token,
                CHANGE_PASSWORD,
                json!({"c": CHOSEN_PASSWORD, "n": new_password}),
            ),
            call(&org.admin_token, DEACTIVATE, json!({"u": id})),
        )
        .await;
        let changed = acked_or(
            round,
            "changePassword",
            &change,
            &["UNAUTHENTICATED", "FORBIDDEN", "CONFLICT"],
        );
        let deactivated = acked_or(round, "deactivateUser", &deactivate, &["CONFLICT"]);
        assert!(deactivated, "round {round}: {:?}", refusal(&deactivate));
        let user = stage.read_user(round, &org.admin_token, &id).await;
        assert_eq!(
            user["status"],
            "INACTIVE",
            "round {round}: the password change undid the deactivation (changePassword {:?}): \
             {user:#}",
            refusal(&change)
        );
        let mut tokens = vec![("the old access token", token.clone())];
        if changed {
            let pair = &change.data["changePassword"];
            tokens.push(("the new access token", text(&pair["accessToken"])));
            let refreshed = stage
                .ask(None, REFRESH, json!({"t": text(&pair["refreshToken"])}))
                .await;
            never_internal(round, "refreshSession", &refreshed);
            assert!(
                !acked(&refreshed),
                "round {round}: the session the password change started survived the \
                 deactivation: its refresh token works"
            );
        }
        for (what, token) in tokens {
            assert!(
                !stage.still_signed_in(round, &token).await,
                "round {round}: {what} still answers `me` after the deactivation \
                 (changePassword {:?})",
                refusal(&change)
            );
        }
        for password in [CHOSEN_PASSWORD, new_password.as_str()] {
            let r = stage.sign_in(&login, password).await;
            never_internal(round, "login", &r);
            assert!(
                !acked(&r),
                "round {round}: the deactivated person signs in with {password}"
            );
        }
    })
    .await;
}

/// Ten concurrent uses of one refresh token: exactly one succeeds; the others get the answer a
/// second use gets.
pub async fn one_refresh_token_used_ten_times(stage: &Stage) {
    let (_, org) = stage.company("Refresh Ten").await;
    let staff = stage.staff_profile(&org, "Staff").await;
    rounds(async |round| {
        let login = format!("rt{round}");
        stage.person(&org, &login, &staff).await;
        let r = stage
            .ask(None, LOGIN, json!({"l": login, "p": CHOSEN_PASSWORD}))
            .await;
        let refresh = text(&r.ok()["login"]["refreshToken"]);
        let uses = (0..10)
            .map(|_| anonymous(REFRESH, json!({"t": refresh})))
            .collect();
        let answers = race_all(&stage.app, uses).await;
        for answer in &answers {
            never_internal(round, "refreshSession", answer);
        }
        let second_use = stage.ask(None, REFRESH, json!({"t": refresh})).await;
        let winners = answers.iter().filter(|a| acked(a)).count();
        assert_eq!(
            winners,
            1,
            "round {round}: {winners} of 10 concurrent uses of one refresh token succeeded: {:?}",
            answers.iter().map(describe).collect::<Vec<_>>()
        );
        for answer in answers.iter().filter(|a| !acked(a)) {
            assert_eq!(
                refusal(answer),
                refusal(&second_use),
                "round {round}: a losing use is not answered as a second use is"
            );
        }
    })
    .await;
}
