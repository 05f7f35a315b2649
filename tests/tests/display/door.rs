//! At the door, in a real browser (issue 14, item 5): in a room that asks for check-in, the
//! booking at hand shows "Check in"; another person's code is refused, the holder's checks them
//! in; then "Extend" adds a slot, "Find a room" lists the other free rooms of the site, and "End
//! now" frees the rest — each confirmed with the holder's code, read back through the API.
//!
//! Screenshots land in `target/display-screenshots/`; with `UPDATE_DOC_SCREENSHOTS=1` the ones
//! the documentation shows are copied to `docs/` as well.

use chrono::{DateTime, Duration, Utc};
use concierge_tests::server::{Scratch, Server};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::floor::{Floor, book_for, floor, mid_morning_zone, slot_now, text};
use crate::{ONE_BROWSER, STEP, assert_fits, pair, wrong_code};

/// The door's buttons and the find panel, in one read.
const DOOR: &str = r##"
const $ = (id) => document.getElementById(id);
return {
  checkIn: !$("door-check-in").hidden,
  extend: !$("door-extend").hidden,
  end: !$("door-end").hidden,
  find: !$("door-find").hidden,
  note: $("door-note").textContent,
  keypad: !$("keypad").hidden,
  title: $("keypad-title").textContent,
  outcome: $("keypad-message").dataset.outcome,
  message: $("keypad-message").textContent,
  findOpen: !$("find").hidden,
  rooms: [...document.querySelectorAll("#find-list .find-room")].map((n) => n.textContent),
  findMessage: $("find-message").textContent,
};
"##;

fn door_when(condition: &str) -> String {
    format!("const d = (() => {{ {DOOR} }})(); return ({condition}) ? d : null;")
}

/// Copies a screenshot into `docs/` when asked to (`UPDATE_DOC_SCREENSHOTS=1`).
async fn shoot(browser: &Browser, name: &str) {
    let shot = browser.screenshot(name).await;
    if std::env::var_os("UPDATE_DOC_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::copy(&shot, docs.join(format!("{name}.png"))).expect("copy to docs/");
    }
}

/// The booking `id` as the administrator reads it.
async fn booking(server: &Server, floor: &Floor, id: &str) -> Value {
    let r = server
        .gql(
            Some(&floor.admin),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node {
                id start end status checkedInAt releaseAt } } } }",
            json!({"r": floor.room}),
        )
        .await;
    r.ok()["bookings"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .find(|b| b["id"] == json!(id))
        .unwrap_or_else(|| panic!("booking {id}: {r:?}"))
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&text(value))
        .expect("an instant")
        .with_timezone(&Utc)
}

/// Types `code` on the open keypad and confirms; answers the door's state once it has answered.
async fn confirm_with(browser: &Browser, code: &str) -> Value {
    browser.press_keys(code).await;
    browser.click("#keypad-ok").await;
    browser
        .wait_for(
            "the door's answer",
            STEP,
            &door_when("d.outcome && d.outcome !== 'sending'"),
        )
        .await
}

#[tokio::test]
async fn the_holder_checks_in_extends_and_ends_at_the_door_with_their_code() {
    let _one = ONE_BROWSER.lock().await;
    let scratch = Scratch::new();
    let server = Server::start("", &scratch, "display-door").await;
    let zone = mid_morning_zone();
    // A deadline of 30 minutes: whenever the test runs within the slot, check-in is still open.
    let floor = floor(
        &server,
        "Initech",
        &zone,
        json!({"slotMinutes": 15, "minMinutes": 15, "maxMinutes": 240,
            "checkInRequired": true, "releaseAfterMinutes": 30}),
    )
    .await;
    // Another room of the site, and another person of the company with a code of their own.
    let r = server
        .gql(
            Some(&floor.admin),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": floor.site, "name": "Salle Focus", "capacity": 4}}),
        )
        .await;
    r.ok();
    let me = server
        .gql(
            Some(&floor.admin),
            "{ me { organization { id } } }",
            json!({}),
        )
        .await;
    let company = text(&me.ok()["me"]["organization"]["id"]);
    let r = server
        .gql(
            Some(&floor.admin),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { credentials { bookingCode } } }",
            json!({"i": {"organizationId": company, "firstName": "Omar", "lastName": "Haddad",
                "email": "omar@initech.test", "siteIds": [floor.site]}}),
        )
        .await;
    let other_code = text(&r.ok()["createUser"]["credentials"]["bookingCode"]);
    // Longer than the deadline: a deadline at the booking's end would free nothing (none is set).
    let id = book_for(&server, &floor, slot_now(), 45, "Point d'équipe").await;

    let browser = Browser::launch("fr-FR").await;
    browser.viewport(1280, 800).await;
    browser
        .goto(&format!("http://{}/display", server.addr))
        .await;
    pair(&browser, &floor).await;
    let d = browser
        .wait_for(
            "the booking awaiting check-in",
            STEP,
            &door_when("d.checkIn && d.end && d.find && !d.extend"),
        )
        .await;
    assert!(
        text(&d["note"]).contains("Confirmez votre présence"),
        "{d:#}"
    );
    assert_fits(&browser, "awaiting check-in, 1280×800").await;
    shoot(&browser, "display-check-in").await;

    // Check in: a wrong code, another person's code, then the holder's.
    browser.click("#door-check-in").await;
    browser
        .wait_for("the keypad", STEP, &door_when("d.keypad"))
        .await;
    let d = confirm_with(&browser, &wrong_code(&floor.booker_code)).await;
    assert_eq!(d["outcome"], json!("wrong-code"), "{d:#}");
    let d = confirm_with(&browser, &other_code).await;
    assert_eq!(d["outcome"], json!("not-holder"), "{d:#}");
    assert!(
        text(&d["message"]).contains("pas le code de la personne qui a réservé"),
        "{d:#}"
    );
    assert_eq!(
        booking(&server, &floor, &id).await["checkedInAt"],
        Value::Null
    );
    let d = confirm_with(&browser, &floor.booker_code).await;
    assert_eq!(d["outcome"], json!("done"), "{d:#}");
    assert!(text(&d["message"]).contains(&floor.booker_name), "{d:#}");
    assert_ne!(
        booking(&server, &floor, &id).await["checkedInAt"],
        Value::Null
    );
    browser
        .wait_for(
            "checked in: extend offered",
            STEP,
            &door_when("!d.keypad && !d.checkIn && d.extend"),
        )
        .await;

    // Extend by one slot.
    let before = booking(&server, &floor, &id).await;
    browser.click("#door-extend").await;
    browser
        .wait_for(
            "the keypad",
            STEP,
            &door_when("d.keypad && d.title.includes('Prolonger')"),
        )
        .await;
    shoot(&browser, "display-extend").await;
    let d = confirm_with(&browser, &other_code).await;
    assert_eq!(d["outcome"], json!("not-holder"), "{d:#}");
    let d = confirm_with(&browser, &floor.booker_code).await;
    assert_eq!(d["outcome"], json!("done"), "{d:#}");
    let after = booking(&server, &floor, &id).await;
    assert_eq!(
        instant(&after["end"]) - instant(&before["end"]),
        Duration::minutes(15)
    );
    browser
        .wait_for("the keypad closed", STEP, &door_when("!d.keypad"))
        .await;

    // Find a room: the other room of the site, free for the next 30 minutes.
    browser.click("#door-find").await;
    let d = browser
        .wait_for(
            "the free rooms",
            STEP,
            &door_when("d.findOpen && (d.rooms.length > 0 || d.findMessage !== 'Recherche…')"),
        )
        .await;
    assert_eq!(d["rooms"], json!(["Salle Focus4 places"]), "{d:#}");
    assert_fits(&browser, "find a room, 1280×800").await;
    shoot(&browser, "display-find-a-room").await;
    browser.click("#find-close").await;
    browser
        .wait_for("the panel closed", STEP, &door_when("!d.findOpen"))
        .await;

    // End now: the booking ends at the end of the slot in progress.
    browser.click("#door-end").await;
    browser
        .wait_for(
            "the keypad",
            STEP,
            &door_when("d.keypad && d.title.includes('Terminer')"),
        )
        .await;
    let d = confirm_with(&browser, &other_code).await;
    assert_eq!(d["outcome"], json!("not-holder"), "{d:#}");
    let d = confirm_with(&browser, &floor.booker_code).await;
    assert_eq!(d["outcome"], json!("done"), "{d:#}");
    let ended = booking(&server, &floor, &id).await;
    let end = instant(&ended["end"]);
    assert!(
        end < instant(&after["end"]) && end >= Utc::now() - Duration::seconds(5),
        "ended at the end of the slot in progress: {ended:#}"
    );
    assert_eq!(
        end.timestamp() % (15 * 60),
        0,
        "on a slot boundary: {ended:#}"
    );
    shoot(&browser, "display-end-now").await;
    browser.close().await;
}
