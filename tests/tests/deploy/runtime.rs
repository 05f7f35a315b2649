//! `deploy/entrypoint.sh` and `deploy/healthcheck.sh` run for real against PostgreSQL, the way
//! the image runs them.

use std::process::{Command, Stdio};
use std::time::Duration;

use concierge_storage_postgres::LISTENER_APPLICATION_NAME;
use concierge_tests::postgres::unmigrated_database;
use serde_json::{Value, json};

use crate::deploy;
use crate::files::{DrainBudget, compose_stop_grace_seconds};
use crate::support::{
    Container, Scratch, applied_migrations, connections_named, embedded_migrations, free_port,
    has_extension, receive, run_healthcheck, send, subscribe_socket,
};

const OPERATOR_EMAIL: &str = "operator@deploy.test";
const OPERATOR_PASSWORD: &str = "operator-password-for-deploy";
// At least 32 bytes each: the image runs with APP_ENV=production, which refuses shorter keys.
const JWT_SECRET: &str = "deploy-test-jwt-secret-at-least-32-bytes";
const CODE_PEPPER: &str = "deploy-test-code-pepper-at-least-32-bytes";

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";

/// The shortest time the manifests give a replica between SIGTERM and SIGKILL.
fn drain_budget() -> Duration {
    let kubernetes = DrainBudget::of_deployment().after_sigterm_seconds();
    Duration::from_secs(kubernetes.min(compose_stop_grace_seconds()))
}

#[tokio::test]
async fn the_entrypoint_migrates_then_execs_the_server_which_drains_on_sigterm() {
    let db = unmigrated_database().await;
    assert_eq!(applied_migrations(db.url()).await, None, "a bare database");
    let listeners_before = connections_named(db.url(), db.name(), LISTENER_APPLICATION_NAME).await;
    let scratch = Scratch::new();
    let container = Container::start(
        &scratch,
        "api",
        &[
            ("DATABASE_URL", db.url()),
            ("JWT_SECRET", JWT_SECRET),
            ("CODE_PEPPER", CODE_PEPPER),
            ("BOOTSTRAP_ADMIN_EMAIL", OPERATOR_EMAIL),
            ("BOOTSTRAP_ADMIN_PASSWORD", OPERATOR_PASSWORD),
        ],
    )
    .await;

    // The entry point replaced itself with the binary: signals reach the server directly.
    let running = std::fs::read_link(format!("/proc/{}/exe", container.pid()))
        .expect("the process's executable");
    assert_eq!(
        running.canonicalize().expect("canonical"),
        container.binary.canonicalize().expect("canonical"),
        "the entry point should `exec` concierge"
    );

    // `concierge migrate` ran first, and completely.
    let log = container.log();
    assert!(
        log.contains("migrations applied"),
        "the entry point ran `concierge migrate`:\n{log}"
    );
    assert_eq!(
        applied_migrations(db.url()).await,
        Some(embedded_migrations()),
        "every embedded migration is applied"
    );
    assert!(
        has_extension(db.url(), "btree_gist").await,
        "the migration created btree_gist (the role needs CREATE on the database)"
    );

    // The endpoints the probes use, and the image's health check script, both ways it may be
    // configured.
    let ready = container
        .request("GET", "/readyz", None, None)
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status, 200, "/readyz");
    assert!(
        ready.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "responses carry x-request-id"
    );
    let metrics = container
        .request("GET", "/metrics", None, None)
        .await
        .expect("GET /metrics");
    assert_eq!(metrics.status, 200, "/metrics");
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "Prometheus text"
    );
    // The PostgreSQL pool is reported: its size, and what is open of it (the probes above used it).
    let exposition = String::from_utf8_lossy(&metrics.body).into_owned();
    let pool = |state: &str| {
        let series = format!("concierge_database_pool_connections{{state=\"{state}\"}} ");
        exposition
            .lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .and_then(|value| value.parse::<f64>().ok())
    };
    assert_eq!(
        pool("max"),
        Some(concierge_api::app::DATABASE_POOL_SIZE as f64),
        "pool size in /metrics:\n{exposition}"
    );
    assert!(
        pool("open").is_some_and(|open| open >= 1.0),
        "open connections:\n{exposition}"
    );
    assert_eq!(
        pool("waiting"),
        Some(0.0),
        "nobody waits on an idle server:\n{exposition}"
    );
    assert!(
        run_healthcheck(&container.addr.to_string()).success(),
        "healthcheck.sh with LISTEN_ADDR={}",
        container.addr
    );
    assert!(
        run_healthcheck(&format!("0.0.0.0:{}", container.addr.port())).success(),
        "healthcheck.sh with the image's LISTEN_ADDR (0.0.0.0) probes loopback"
    );

    // One LISTEN connection of its own, beside the pool.
    assert_eq!(
        connections_named(db.url(), db.name(), LISTENER_APPLICATION_NAME).await,
        listeners_before + 1,
        "one booking-event listener per process"
    );

    // The bootstrap operator exists on the migrated schema and signs in (Argon2id at full
    // cost: APP_ENV=production refuses anything cheaper).
    let signed_in = container
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
        )
        .await;
    assert!(
        signed_in.ok()["login"]["accessToken"].is_string(),
        "the operator signs in"
    );

    // LOG_FORMAT=json: the log records are JSON objects.
    let log = container.log();
    let records: Vec<&str> = log.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!records.is_empty(), "JSON log records:\n{log}");
    for record in records {
        let value: Value = serde_json::from_str(record)
            .unwrap_or_else(|e| panic!("a log record that is not JSON ({e}): {record}"));
        assert!(
            value["level"].is_string(),
            "a record with a level: {record}"
        );
    }

    // SIGTERM with a subscription socket open: the server exits 0 within the time the
    // manifests give it (an open WebSocket does not hold the drain).
    let socket = subscribe_socket(container.addr, None).await;
    let budget = drain_budget();
    let (status, took) = container.terminate(budget).await;
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM ends the server with status 0"
    );
    assert!(took < budget, "drained in {took:?}, budget {budget:?}");
    drop(socket);
}

#[tokio::test]
async fn run_migrations_false_leaves_the_schema_to_the_migration_job() {
    let db = unmigrated_database().await;
    let scratch = Scratch::new();
    let container = Container::start(
        &scratch,
        "api",
        &[
            ("DATABASE_URL", db.url()),
            ("JWT_SECRET", JWT_SECRET),
            ("CODE_PEPPER", CODE_PEPPER),
            ("RUN_MIGRATIONS", "false"),
        ],
    )
    .await;
    assert_eq!(
        applied_migrations(db.url()).await,
        None,
        "neither the entry point nor the server (AUTO_MIGRATE) migrated"
    );
    assert!(!container.log().contains("migrations applied"));

    // The Job's container: the same entry point with `migrate`.
    let status = Command::new(deploy("entrypoint.sh"))
        .arg("migrate")
        .env_clear()
        .env("PATH", path_to(&container))
        .env("DATABASE_URL", db.url())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("the entry point runs");
    assert!(status.success(), "`entrypoint.sh migrate` failed: {status}");
    assert_eq!(
        applied_migrations(db.url()).await,
        Some(embedded_migrations())
    );

    // The health check fails where nothing listens.
    let closed = free_port();
    assert!(
        !run_healthcheck(&format!("127.0.0.1:{closed}")).success(),
        "healthcheck.sh must fail when nothing listens"
    );

    let (status, _) = container.terminate(drain_budget()).await;
    assert_eq!(status.code(), Some(0));
}

fn path_to(container: &Container) -> std::ffi::OsString {
    let mut path = std::ffi::OsString::from(container.binary.parent().expect("bin dir"));
    path.push(":/usr/local/bin:/usr/bin:/bin");
    path
}

/// compose.yaml's topology without Docker: two replicas started together on one new database
/// (both migrate; the lock serialises them), the first bootstrapping, both with the same keys.
/// A tablet subscribed on api-1 hears of a booking made through api-2.
#[tokio::test]
async fn two_replicas_started_together_share_sign_ins_and_booking_events() {
    let db = unmigrated_database().await;
    let listeners_before = connections_named(db.url(), db.name(), LISTENER_APPLICATION_NAME).await;
    let scratch = Scratch::new();
    let shared = [
        ("DATABASE_URL", db.url()),
        ("JWT_SECRET", JWT_SECRET),
        ("CODE_PEPPER", CODE_PEPPER),
    ];
    let mut first: Vec<(&str, &str)> = shared.to_vec();
    first.push(("BOOTSTRAP_ADMIN_EMAIL", OPERATOR_EMAIL));
    first.push(("BOOTSTRAP_ADMIN_PASSWORD", OPERATOR_PASSWORD));
    let mut api1 = Container::spawn(&scratch, "api-1", &first).await;
    let mut api2 = Container::spawn(&scratch, "api-2", &shared).await;
    api1.wait_until_healthy().await;
    api2.wait_until_healthy().await;
    assert_eq!(
        applied_migrations(db.url()).await,
        Some(embedded_migrations())
    );
    assert_eq!(
        connections_named(db.url(), db.name(), LISTENER_APPLICATION_NAME).await,
        listeners_before + 2,
        "one listener per replica"
    );

    // The operator bootstrapped by api-1 signs in through api-2; the token works on api-1.
    let operator = login(&api2, OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let me = api1
        .gql(Some(&operator), "{ me { email } }", json!({}))
        .await;
    assert_eq!(me.ok()["me"]["email"], json!(OPERATOR_EMAIL));

    // A partner, its client company, a site, a room and a tablet, alternating replicas.
    let partner = api1
        .gql(
            Some(&operator),
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
                organization { id } credentials { login temporaryPassword } } }",
            json!({"i": {"kind": "PARTNER", "name": "Deploy Partner", "timeZone": "Europe/Paris",
                "administrator": {"firstName": "Ada", "lastName": "Partner", "email": "ada@partner.deploy.test"}}}),
        )
        .await;
    let partner = &partner.ok()["createOrganization"];
    let ada = first_sign_in(&api2, &partner["credentials"]).await;
    let company = api2
        .gql(
            Some(&ada),
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
                organization { id } credentials { login temporaryPassword } } }",
            json!({"i": {"kind": "COMPANY", "name": "Deploy Company", "timeZone": "Europe/Paris",
                "parentId": partner["organization"]["id"],
                "administrator": {"firstName": "Hank", "lastName": "Company", "email": "hank@company.deploy.test"}}}),
        )
        .await;
    let company = &company.ok()["createOrganization"];
    let hank = first_sign_in(&api1, &company["credentials"]).await;
    let site = api1
        .gql(
            Some(&hank),
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company["organization"]["id"], "name": "HQ", "timeZone": "Europe/Paris"}}),
        )
        .await;
    let site = site.ok()["createSite"]["site"]["id"].clone();
    let room = api2
        .gql(
            Some(&hank),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": site, "name": "Door Room", "capacity": 6}}),
        )
        .await;
    let room = room.ok()["createRoom"]["room"]["id"].clone();
    let tablet = api1
        .gql(
            Some(&hank),
            "mutation($s: ID!, $r: ID) { registerDevice(input: {siteId: $s, roomId: $r, name: \"Door\"}) { token } }",
            json!({"s": site, "r": room}),
        )
        .await;
    let tablet = tablet.ok()["registerDevice"]["token"]
        .as_str()
        .expect("device token")
        .to_owned();

    // The tablet listens on api-1.
    let mut socket = subscribe_socket(api1.addr, Some(&tablet)).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($r: ID!) { bookingEvents(roomId: $r) { kind booking { id title } } }",
        "variables": {"r": room}}}))
    .await;

    // Bookings through api-2. The server registers a subscription asynchronously and the
    // protocol has no "subscribed" message: book again (another hour) until one is heard.
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let mut booked = Vec::new();
    let mut heard = None;
    for hour in 8..12 {
        let start = day.and_hms_opt(hour, 0, 0).expect("time").and_utc();
        let r = api2
            .gql(
                Some(&hank),
                "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
                json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                    "end": (start + chrono::Duration::hours(1)).to_rfc3339(), "title": format!("Through api-2 at {hour}")}}),
            )
            .await;
        booked.push(r.ok()["createBooking"]["booking"]["id"].clone());
        if let Some(message) = receive(&mut socket, Duration::from_secs(5)).await {
            heard = Some(message);
            break;
        }
    }
    let message = heard.expect("api-1's subscriber heard of a booking made through api-2");
    assert_eq!(message["type"], json!("next"), "{message}");
    let event = &message["payload"]["data"]["bookingEvents"];
    assert_eq!(event["kind"], json!("CREATED"), "{message}");
    assert!(
        booked.contains(&event["booking"]["id"]),
        "the event is one of the bookings made through api-2: {message}"
    );

    let budget = drain_budget();
    let (first_status, _) = api1.terminate(budget).await;
    let (second_status, _) = api2.terminate(budget).await;
    assert_eq!(first_status.code(), Some(0));
    assert_eq!(second_status.code(), Some(0));
}

async fn login(container: &Container, login: &str, password: &str) -> String {
    let r = container
        .gql(None, LOGIN, json!({"l": login, "p": password}))
        .await;
    r.ok()["login"]["accessToken"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Signs in with generated credentials and sets a password, as a newcomer must; the token.
async fn first_sign_in(container: &Container, credentials: &Value) -> String {
    let login_name = credentials["login"].as_str().expect("login");
    let temporary = credentials["temporaryPassword"]
        .as_str()
        .expect("temporary password");
    let token = login(container, login_name, temporary).await;
    let r = container
        .gql(
            Some(&token),
            "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { accessToken } }",
            json!({"c": temporary, "n": "a-chosen-password-42"}),
        )
        .await;
    r.ok()["changePassword"]["accessToken"]
        .as_str()
        .expect("access token")
        .to_owned()
}
