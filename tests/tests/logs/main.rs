//! No secret ever reaches a log line: the real binary runs a flow that handles every kind of
//! secret (passwords, temporary passwords, PINs, booking codes, access, refresh, device and
//! reset tokens), including a GET whose query string carries a password, and its whole output
//! is searched for each of them.

mod traces;

use std::time::Duration;

use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Bootstrap, OPERATOR_EMAIL, OPERATOR_PASSWORD, Scratch, Server};
use serde_json::{Value, json};

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let db = fresh_database().await;
    let scratch = Scratch::new();
    // Debug level everywhere: the most a deployment could ever log.
    let env = [("RUST_LOG", "debug"), ("LOG_FORMAT", "json")];
    let server = Server::launch_with(db.url(), &scratch, "logs", Bootstrap::Operator, &env).await;
    let mut secrets: Vec<String> = vec![OPERATOR_PASSWORD.to_owned()];

    let r = server
        .gql(None, "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken refreshToken } }",
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}))
        .await;
    let operator = text(&r.ok()["login"]["accessToken"]);
    secrets.push(operator.clone());
    secrets.push(text(&r.ok()["login"]["refreshToken"]));

    // A failed sign-in with a distinctive password.
    let wrong = "Wrong-Horse-Battery-77";
    secrets.push(wrong.to_owned());
    server
        .gql(None, "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": OPERATOR_EMAIL, "p": wrong}))
        .await;

    let r = server
        .gql(Some(&operator), "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
            organization { id } credentials { login temporaryPassword bookingCode } } }",
            json!({"i": {"kind": "PARTNER", "name": "Logged Partner", "administrator": {"firstName": "P", "lastName": "A", "email": "pa@logged.test"}}}))
        .await;
    let partner = r.ok()["createOrganization"].clone();
    let partner_temp = text(&partner["credentials"]["temporaryPassword"]);
    secrets.push(partner_temp.clone());
    secrets.push(text(&partner["credentials"]["bookingCode"]));
    let chosen = "Partner-Chosen-Secret-42";
    secrets.push(chosen.to_owned());
    let partner_token = server
        .first_sign_in("pa@logged.test", &partner_temp, chosen)
        .await;
    secrets.push(partner_token.clone());

    let r = server
        .gql(Some(&partner_token), "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
            organization { id } credentials { temporaryPassword bookingCode } } }",
            json!({"i": {"kind": "COMPANY", "name": "Logged Co", "parentId": partner["organization"]["id"],
                "administrator": {"firstName": "C", "lastName": "A", "email": "ca@logged.test"}}}))
        .await;
    let company = r.ok()["createOrganization"].clone();
    secrets.push(text(&company["credentials"]["temporaryPassword"]));
    let company_code = text(&company["credentials"]["bookingCode"]);
    secrets.push(company_code.clone());
    let company_id = text(&company["organization"]["id"]);
    let admin = server
        .first_sign_in(
            "ca@logged.test",
            &text(&company["credentials"]["temporaryPassword"]),
            "Company-Chosen-Secret-7",
        )
        .await;
    secrets.push("Company-Chosen-Secret-7".to_owned());

    // A user whose credentials are e-mailed, a site, a room and a tablet.
    let r = server
        .gql(Some(&admin), "mutation($i: CreateUserInput!) { createUser(input: $i) { credentials { temporaryPassword bookingCode } } }",
            json!({"i": {"organizationId": company_id, "firstName": "U", "lastName": "Ser", "email": "u@logged.test", "sendCredentialsTo": "USER"}}))
        .await;
    secrets.push(text(
        &r.ok()["createUser"]["credentials"]["temporaryPassword"],
    ));
    secrets.push(text(&r.ok()["createUser"]["credentials"]["bookingCode"]));
    let site = server
        .gql(Some(&admin), "mutation($o: ID!) { createSite(input: {organizationId: $o, name: \"S\", timeZone: \"Europe/Paris\"}) { site { id } } }", json!({"o": company_id}))
        .await
        .ok()["createSite"]["site"]["id"]
        .clone();
    let r = server
        .gql(
            Some(&admin),
            "mutation($s: ID!) { registerDevice(input: {siteId: $s, name: \"Door\"}) { token } }",
            json!({"s": site}),
        )
        .await;
    secrets.push(text(&r.ok()["registerDevice"]["token"]));
    server
        .gql(None, "mutation($o: ID!, $c: String!) { loginWithBookingCode(input: {organizationId: $o, code: $c}) { accessToken } }",
            json!({"o": company_id, "c": company_code}))
        .await;
    server
        .gql(
            None,
            "mutation { requestPasswordReset(input: {login: \"ca@logged.test\"}) { ok } }",
            json!({}),
        )
        .await;

    // A calendar feed, fetched as a calendar application does: its address is a secret.
    let r = server
        .gql(
            Some(&admin),
            "mutation { createCalendarFeed(input: {}) { url } }",
            json!({}),
        )
        .await;
    let feed_url = text(&r.ok()["createCalendarFeed"]["url"]);
    let feed_path = feed_url[feed_url.find("/calendar/").expect("a feed path")..].to_owned();
    let feed_token = feed_path
        .trim_start_matches("/calendar/")
        .trim_end_matches(".ics")
        .to_owned();
    assert!(feed_token.starts_with("cal_"), "{feed_url}");
    secrets.push(feed_token.clone());
    let fetched = server
        .request("GET", &feed_path, None, None)
        .await
        .expect("the feed");
    assert_eq!(fetched.status, 200, "the feed answers");
    // An address no route matches is not logged either (it may be a mistyped secret).
    let stray = "Stray-Path-Secret-9";
    secrets.push(stray.to_owned());
    let _ = server
        .request("GET", &format!("/{stray}"), None, None)
        .await;

    // A GET whose query string carries a password in its variables.
    let get_secret = "Get-Query-String-Secret-5";
    secrets.push(get_secret.to_owned());
    let path = format!(
        "/graphql?query=mutation%28%24p%3AString%21%29%7Blogin%28input%3A%7Blogin%3A%22x%40y.z%22%2Cpassword%3A%24p%7D%29%7BaccessToken%7D%7D&variables=%7B%22p%22%3A%22{get_secret}%22%7D"
    );
    let _ = server.request("GET", &path, None, None).await;

    // Let the outbox worker deliver (the mailbox transport logs each message) before stopping.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mailbox = std::fs::read_dir(scratch.path().join("mailbox"))
        .map(|d| d.count())
        .unwrap_or(0);
    let log = server.log();
    let status = server.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
    assert!(
        mailbox >= 2,
        "e-mails were delivered to the mailbox ({mailbox})"
    );
    assert!(
        log.contains("Concierge listening"),
        "the log was captured:\n{log}"
    );
    // The request spans name routes, not paths.
    assert!(
        log.contains("/calendar/{token}"),
        "the feed's request is logged by its route:\n{log}"
    );
    assert!(
        log.contains("unmatched"),
        "an unmatched request is logged as such:\n{log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({}…) appears in the logs:\n{log}",
            &secret[..4.min(secret.len())]
        );
    }
}
