//! The room display (`/display`) in a real browser: headless Chromium driven through WebDriver
//! (chromedriver, started here on a free port) against the real `concierge` binary.
//!
//! - `a_tablet_pairs_follows_bookings_live_and_books_with_a_code` (memory backend, French): the
//!   pairing screen refuses a bad token and takes the device token; the room shows free; a
//!   booking made through the API appears within 2 seconds; a wrong booking code on the keypad
//!   says so; the person's code books the slot in progress (a TABLET booking held by them, read
//!   back through the API) and the room turns busy; nothing overflows at 1280×800 nor 800×1280;
//!   the code is kept nowhere; "unpair" returns to pairing.
//! - `the_display_recovers_from_a_restart_and_leaves_when_revoked` (PostgreSQL, English): the
//!   room's policy disables what it does not allow; too many wrong codes say how long to wait;
//!   the server is stopped with SIGTERM (the page shows "offline") and started again on the same
//!   database behind the same address (the page comes back by itself, reads the schedule again
//!   and hears new bookings); a revoked token sends the tablet back to pairing.
//! - `the_page_and_its_files_are_served_with_a_strict_policy`: headers and content, in process.
//!
//! Screenshots of each state land in `target/display-screenshots/`. Without Chromium and
//! chromedriver (`apt-get install -y chromium chromium-driver`) or PostgreSQL the tests fail,
//! they never skip.

mod browser;
mod door;
mod floor;
mod front_door;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Utc};
use concierge_tests::TestApp;
use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Scratch, Server};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use browser::Browser;
use floor::{Floor, book_for, bookings, floor, mid_morning_zone, slot_now, text};
use front_door::FrontDoor;

/// One browser at a time: two Chromiums on a small machine make the timing checks unfair.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a live change may take to show (the issue's promise).
const LIVE: Duration = Duration::from_secs(2);
/// For steps that involve no waiting on purpose (a click and its answer).
const STEP: Duration = Duration::from_secs(10);
/// Pairing, or coming back after a restart (exponential backoff included).
const RECOVERY: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The page's state in one read: which screen, the connection, free/busy, texts shown.
const SNAPSHOT: &str = r##"
const $ = (id) => document.getElementById(id);
const cardTitle = (id) => $(id).hidden ? null : $(id).querySelector(".card-title").textContent;
return {
  screen: document.body.dataset.screen,
  lang: document.documentElement.lang,
  connection: document.body.dataset.connection,
  offlineShown: !$("offline").hidden,
  state: $("status").dataset.state,
  room: $("room-name").textContent,
  stateWord: $("state-word").textContent,
  current: cardTitle("current"),
  next: cardTitle("next"),
  schedule: [...document.querySelectorAll("#schedule .slot")].map((n) => n.textContent),
  book: [15, 30, 60].map((m) => !$(`book-${m}`).disabled),
  keypad: !$("keypad").hidden,
  outcome: $("keypad-message").dataset.outcome,
  message: $("keypad-message").textContent,
  digits: Number($("code-dots").dataset.length || 0),
  pairMessage: $("pair-message").textContent,
};
"##;

/// Lists what sticks out of the viewport or is cut without an ellipsis; empty when all fits.
const OVERFLOW: &str = r##"
const width = window.innerWidth, height = window.innerHeight;
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > width || root.scrollHeight > height) {
  problems.push(`page scrolls: ${root.scrollWidth}x${root.scrollHeight}`);
}
const name = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${el.className}`;
for (const el of document.querySelectorAll("#display *, #keypad:not([hidden]) *")) {
  if (el.closest("#schedule")) continue; // the schedule scrolls inside its own box
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  if (style.display === "none" || style.visibility === "hidden" || (!box.width && !box.height)) continue;
  if (box.left < -1 || box.top < -1 || box.right > width + 1 || box.bottom > height + 1) {
    problems.push(`${name(el)} outside: ${Math.round(box.left)},${Math.round(box.top)} to ${Math.round(box.right)},${Math.round(box.bottom)}`);
  }
  const clipped = el.scrollWidth > el.clientWidth + 1 && style.display !== "inline";
  if (clipped && style.textOverflow !== "ellipsis" && el.children.length === 0) {
    problems.push(`${name(el)} cut: ${el.scrollWidth} > ${el.clientWidth}`);
  }
}
const schedule = document.getElementById("schedule").getBoundingClientRect();
if (schedule.bottom > height + 1 || schedule.right > width + 1) problems.push("#schedule outside");
return problems;
"##;

/// A JavaScript condition on the snapshot (`s`), for `Browser::wait_for`.
fn when(condition: &str) -> String {
    format!("const s = (() => {{ {SNAPSHOT} }})(); return ({condition}) ? s : null;")
}

async fn assert_fits(browser: &Browser, what: &str) {
    let problems = browser.eval(OVERFLOW).await;
    assert_eq!(
        problems,
        json!([]),
        "{what}: something does not fit the screen"
    );
}

fn js(value: &str) -> String {
    Value::from(value).to_string()
}

/// A code that is not the person's: each digit shifted by one.
fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| {
            c.to_digit(10)
                .map_or(c, |d| char::from(b'0' + ((d + 1) % 10) as u8))
        })
        .collect()
}

async fn pair(browser: &Browser, floor: &Floor) {
    browser.type_into("#token-input", &floor.device_token).await;
    browser.click("#pair-button").await;
    browser
        .wait_for(
            "the room's display, live",
            RECOVERY,
            &when(&format!(
                "s.screen === 'display' && s.room === {} && s.connection === 'online' && s.state !== 'unknown'",
                js(&floor.room_name)
            )),
        )
        .await;
}

/// Books through the API and waits for the page to show it; returns how long that took.
async fn booked_elsewhere_shows(
    server: &Server,
    browser: &Browser,
    floor: &Floor,
    start: DateTime<Utc>,
    minutes: i64,
    title: &str,
) -> Duration {
    book_for(server, floor, start, minutes, title).await;
    let booked = Instant::now();
    browser
        .wait_for(
            &format!("'{title}' on the page"),
            LIVE,
            &when(&format!(
                "s.schedule.some((line) => line.includes({0})) || s.next === {0}",
                js(title)
            )),
        )
        .await;
    booked.elapsed()
}

#[tokio::test]
async fn a_tablet_pairs_follows_bookings_live_and_books_with_a_code() {
    let _one = ONE_BROWSER.lock().await;
    let scratch = Scratch::new();
    // An empty DATABASE_URL is no database: the memory backend.
    let server = Server::start("", &scratch, "display-memory").await;
    let zone = mid_morning_zone();
    let floor = floor(
        &server,
        "Globex",
        &zone,
        json!({"slotMinutes": 15, "minMinutes": 15, "maxMinutes": 240}),
    )
    .await;
    let browser = Browser::launch("fr-FR").await;
    browser.viewport(1280, 800).await;
    browser
        .goto(&format!("http://{}/display", server.addr))
        .await;

    // In French (navigator.language), the pairing screen first; a bad token is refused.
    browser
        .wait_for(
            "the pairing screen, in French",
            STEP,
            &when("s.screen === 'pairing' && s.lang === 'fr'"),
        )
        .await;
    // From here on, anything the Content-Security-Policy blocks is recorded.
    browser
        .eval(
            "window.violations = []; document.addEventListener('securitypolicyviolation', \
             (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`)); return true;",
        )
        .await;
    browser
        .type_into("#token-input", "dev_not-a-device-token")
        .await;
    browser.click("#pair-button").await;
    browser
        .wait_for(
            "the refusal of a bad token",
            STEP,
            &when("s.screen === 'pairing' && s.pairMessage.includes('révoqué')"),
        )
        .await;
    assert_fits(&browser, "pairing, 1280×800").await;
    browser.screenshot("pairing-1280x800").await;

    pair(&browser, &floor).await;
    let s = browser
        .wait_for(
            "the free room, every duration bookable",
            STEP,
            &when("s.state === 'free' && s.book.every(Boolean)"),
        )
        .await;
    assert_eq!(s["stateWord"], json!("Libre"), "{s:#}");
    assert_eq!(s["offlineShown"], json!(false));
    let stored = browser
        .eval("return JSON.stringify(Object.assign({}, localStorage));")
        .await;
    assert!(
        text(&stored).contains(&floor.device_token),
        "the token is kept on the tablet: {stored}"
    );
    assert_fits(&browser, "free, 1280×800").await;
    browser.screenshot("free-1280x800").await;

    // A booking made elsewhere shows within 2 seconds; 60 minutes no longer fit before it.
    let took = booked_elsewhere_shows(
        &server,
        &browser,
        &floor,
        slot_now() + chrono::Duration::minutes(45),
        60,
        "Revue hebdo",
    )
    .await;
    assert!(took <= LIVE, "shown after {took:?}");
    let s = browser
        .wait_for(
            "60 minutes disabled by the next booking",
            LIVE,
            &when("!s.book[2] && s.book[0] && s.book[1] && s.next === 'Revue hebdo'"),
        )
        .await;
    assert_eq!(s["state"], json!("free"));

    // At the door: a wrong code, then the right one, for 30 minutes.
    browser.click("#book-30").await;
    browser
        .wait_for("the keypad", STEP, &when("s.keypad && s.digits === 0"))
        .await;
    browser.press_keys(&wrong_code(&floor.booker_code)).await;
    browser
        .wait_for("the digits typed", STEP, &when("s.digits === 10"))
        .await;
    browser.click("#keypad-ok").await;
    let s = browser
        .wait_for(
            "the wrong code said",
            STEP,
            &when("s.outcome === 'wrong-code' && s.digits === 0"),
        )
        .await;
    assert!(
        text(&s["message"]).contains("Code de réservation incorrect"),
        "{s:#}"
    );
    assert_fits(&browser, "keypad, 1280×800").await;
    browser.screenshot("error-1280x800").await;
    browser.viewport(800, 1280).await;
    assert_fits(&browser, "keypad, 800×1280").await;
    browser.screenshot("error-800x1280").await;
    browser.viewport(1280, 800).await;
    assert_eq!(bookings(&server, &floor).await.len(), 1, "nothing booked");

    browser.press_keys(&floor.booker_code).await;
    browser.click("#keypad-ok").await;
    let s = browser
        .wait_for(
            "the booking made",
            STEP,
            &when("s.outcome === 'booked' && s.digits === 0"),
        )
        .await;
    assert!(text(&s["message"]).contains(&floor.booker_name), "{s:#}");
    let all = bookings(&server, &floor).await;
    let door = all
        .iter()
        .find(|b| b["source"] == json!("TABLET"))
        .unwrap_or_else(|| panic!("a TABLET booking: {all:#?}"));
    assert_eq!(door["user"]["id"], json!(floor.booker_id), "{door:#}");
    let (start, end) = (
        DateTime::parse_from_rfc3339(&text(&door["start"])).expect("start"),
        DateTime::parse_from_rfc3339(&text(&door["end"])).expect("end"),
    );
    assert_eq!(end - start, chrono::Duration::minutes(30), "{door:#}");
    assert!(
        start.with_timezone(&Utc) <= Utc::now() && Utc::now() < end.with_timezone(&Utc),
        "the slot in progress: {door:#}"
    );

    let s = browser
        .wait_for(
            "the busy room",
            LIVE,
            &when(&format!(
                "s.state === 'busy' && s.current === {} && s.book.every((b) => !b)",
                js(&floor.booker_name)
            )),
        )
        .await;
    assert_eq!(s["stateWord"], json!("Occupée"), "{s:#}");
    browser
        .wait_for("the keypad closed", STEP, &when("!s.keypad"))
        .await;
    assert_fits(&browser, "busy, 1280×800").await;
    browser.screenshot("busy-1280x800").await;
    browser.viewport(800, 1280).await;
    assert_fits(&browser, "busy, 800×1280").await;
    browser.screenshot("busy-800x1280").await;
    browser.viewport(1280, 800).await;

    // The code was kept nowhere: not in storage, not in the address, not on screen.
    let traces = browser
        .eval(
            "return JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage)) \
             + location.href + document.body.innerText;",
        )
        .await;
    assert!(!text(&traces).contains(&floor.booker_code), "{traces}");

    // Nothing was refused by the policy, and nothing came from another origin.
    assert_eq!(browser.eval("return window.violations;").await, json!([]));
    let elsewhere = browser
        .eval(
            "return performance.getEntriesByType('resource').map((e) => e.name) \
             .filter((url) => !url.startsWith(location.origin + '/'));",
        )
        .await;
    assert_eq!(elsewhere, json!([]), "requests to other origins");

    // Unpairing (two taps) forgets the token.
    browser.click("#unpair").await;
    browser.click("#unpair").await;
    browser
        .wait_for(
            "the pairing screen again",
            STEP,
            &when("s.screen === 'pairing'"),
        )
        .await;
    let stored = browser.eval("return localStorage.length;").await;
    assert_eq!(stored, json!(0));

    // A tablet registered for the whole site asks which of its rooms it is at.
    server
        .gql(
            Some(&floor.admin),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": floor.site, "name": "Salle Agora"}}),
        )
        .await
        .ok();
    let r = server
        .gql(
            Some(&floor.admin),
            "mutation($s: ID!) { registerDevice(input: {siteId: $s, name: \"Lobby\"}) { token } }",
            json!({"s": floor.site}),
        )
        .await;
    let lobby = text(&r.ok()["registerDevice"]["token"]);
    browser.type_into("#token-input", &lobby).await;
    browser.click("#pair-button").await;
    browser
        .wait_for(
            "the choice of a room",
            STEP,
            "return [...document.querySelectorAll('#room-choice-list button')] \
             .map((b) => b.textContent).sort().join('|') === 'Salle Agora|Salle Touch';",
        )
        .await;
    browser
        .click(&format!(
            "#room-choice-list button[data-room-id={}]",
            js(&floor.room)
        ))
        .await;
    browser
        .wait_for(
            "the chosen room's display",
            STEP,
            &when(&format!(
                "s.screen === 'display' && s.room === {} && s.state === 'busy' && s.connection === 'online'",
                js(&floor.room_name)
            )),
        )
        .await;
    browser.close().await;
}

#[tokio::test]
async fn the_display_recovers_from_a_restart_and_leaves_when_revoked() {
    let _one = ONE_BROWSER.lock().await;
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let door = FrontDoor::open().await;
    let server = Server::start(database.url(), &scratch, "display-first").await;
    door.route_to(server.addr);
    let zone = mid_morning_zone();
    // Bookings of at most 30 minutes: "1 h" is never offered.
    let floor = floor(
        &server,
        "Initech",
        &zone,
        json!({"slotMinutes": 15, "minMinutes": 15, "maxMinutes": 30}),
    )
    .await;
    book_for(
        &server,
        &floor,
        slot_now() + chrono::Duration::hours(2),
        30,
        "Board meeting",
    )
    .await;

    let browser = Browser::launch("en-US").await;
    browser.viewport(1280, 800).await;
    browser.goto(&format!("http://{}/display", door.addr)).await;
    browser
        .wait_for(
            "the pairing screen, in English",
            STEP,
            &when("s.screen === 'pairing' && s.lang === 'en'"),
        )
        .await;
    pair(&browser, &floor).await;
    let s = browser
        .wait_for(
            "the schedule, and only what the policy allows",
            STEP,
            &when(
                "s.state === 'free' && s.next === 'Board meeting' && s.book[0] && s.book[1] && !s.book[2]",
            ),
        )
        .await;
    assert_eq!(s["stateWord"], json!("Free"), "{s:#}");
    assert_fits(&browser, "free (English), 1280×800").await;
    browser.screenshot("free-en-1280x800").await;

    // Ten wrong codes on this tablet (one here, nine through the API), then even the right one
    // is refused for a while, and the page says how long.
    browser.click("#book-15").await;
    browser
        .wait_for("the keypad", STEP, &when("s.keypad"))
        .await;
    browser.press_keys(&wrong_code(&floor.booker_code)).await;
    browser.click("#keypad-ok").await;
    browser
        .wait_for(
            "the wrong code said",
            STEP,
            &when("s.outcome === 'wrong-code'"),
        )
        .await;
    let slot = slot_now();
    for _ in 0..9 {
        let r = server
            .gql(
                Some(&floor.device_token),
                "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input: $i) { booking { id } } }",
                json!({"i": {"roomId": floor.room, "code": wrong_code(&floor.booker_code),
                    "start": slot.to_rfc3339(), "end": (slot + chrono::Duration::minutes(15)).to_rfc3339()}}),
            )
            .await;
        r.assert_error("VALIDATION", Some("code"));
    }
    browser.press_keys(&floor.booker_code).await;
    browser.click("#keypad-ok").await;
    let s = browser
        .wait_for(
            "too many attempts",
            STEP,
            &when("s.outcome === 'rate-limited' && s.digits === 0"),
        )
        .await;
    let message = text(&s["message"]);
    assert!(
        message.starts_with("Too many attempts — wait ") && message.ends_with(" minutes."),
        "{message}"
    );
    browser.screenshot("rate-limited-en-1280x800").await;
    browser.click("#keypad-cancel").await;

    // The server stops (SIGTERM): the page says it is offline and books nothing.
    let status = server.terminate(STOP_TIMEOUT).await;
    assert!(
        status.success(),
        "SIGTERM ends the server cleanly: {status}"
    );
    let s = browser
        .wait_for(
            "the offline state",
            STEP,
            &when("s.connection === 'offline' && s.offlineShown"),
        )
        .await;
    assert_eq!(s["book"], json!([false, false, false]), "{s:#}");
    assert_fits(&browser, "offline, 1280×800").await;
    browser.screenshot("offline-en-1280x800").await;

    // It starts again on the same database, behind the same address: the page comes back by
    // itself, with the schedule read again, and hears what happens next.
    let server = Server::start(database.url(), &scratch, "display-second").await;
    door.route_to(server.addr);
    browser
        .wait_for(
            "the page back online with its schedule",
            RECOVERY,
            &when("s.connection === 'online' && !s.offlineShown && s.next === 'Board meeting'"),
        )
        .await;
    let took = booked_elsewhere_shows(
        &server,
        &browser,
        &floor,
        slot_now() + chrono::Duration::hours(3),
        30,
        "After the restart",
    )
    .await;
    assert!(took <= LIVE, "shown after {took:?}");

    // The tablet is revoked: at its next word from the server it returns to pairing.
    server
        .gql(
            Some(&floor.admin),
            "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }",
            json!({"d": floor.device_id}),
        )
        .await
        .ok();
    book_for(
        &server,
        &floor,
        slot_now() + chrono::Duration::hours(4),
        30,
        "Later",
    )
    .await;
    browser
        .wait_for(
            "back to pairing once revoked",
            STEP,
            &when("s.screen === 'pairing' && s.pairMessage.includes('revoked')"),
        )
        .await;
    assert_eq!(browser.eval("return localStorage.length;").await, json!(0));
    browser.close().await;
    let status = server.terminate(STOP_TIMEOUT).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    let router = concierge_api::http::router(app.state.clone());
    let files = [
        ("/display", "text/html"),
        ("/display?asset=display.css", "text/css"),
        ("/display?asset=display.js", "text/javascript"),
        ("/display?asset=graphql-ws-client.js", "text/javascript"),
    ];
    for (path, kind) in files {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        let value = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(value(header::CONTENT_TYPE).starts_with(kind), "{path}");
        let policy = value(header::CONTENT_SECURITY_POLICY);
        assert!(
            policy.contains("default-src 'self'")
                && policy.contains("connect-src 'self' ws: wss:")
                && !policy.contains("unsafe-inline"),
            "{path}: {policy}"
        );
        assert_eq!(value(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let body = String::from_utf8(body.to_vec()).expect("UTF-8");
        // Nothing fetched from elsewhere.
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} names another origin"
        );
    }
    let missing = router
        .oneshot(
            Request::get("/display?asset=../Cargo.toml")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
