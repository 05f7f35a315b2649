//! The room display (`GET /display`): the page a tablet at a room's door shows all day. It pairs
//! with a device token (`registerDevice`), shows whether the room is free or busy, the current and
//! next booking and the day's schedule, listens to `bookingEvents` over `graphql-transport-ws`,
//! and books at the door with a person's booking code (`createBookingWithCode`).
//!
//! Everything is compiled into the binary (no build step, nothing fetched from elsewhere). One
//! route serves it all: `/display` is the page, `/display?asset=<name>` its style sheet and
//! scripts, so that a strict Content-Security-Policy (`'self'` only, no inline code) holds.

use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("display.html");

/// The assets a page may ask for: name, content type, text.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "display.css",
        "text/css; charset=utf-8",
        include_str!("display.css"),
    ),
    (
        "display.js",
        "text/javascript; charset=utf-8",
        include_str!("display.js"),
    ),
    (
        "graphql-ws-client.js",
        "text/javascript; charset=utf-8",
        include_str!("graphql-ws-client.js"),
    ),
];

/// Only this origin: the page's own files, its own GraphQL endpoint and socket; no inline code,
/// no plug-ins, no framing, no form posted anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

/// `GET /display`: the page, or with `?asset=<name>` one of its files.
pub async fn page(uri: Uri) -> Response {
    let asset = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("asset="));
    match asset {
        None => respond("text/html; charset=utf-8", PAGE),
        Some(name) => match ASSETS.iter().find(|(known, _, _)| *known == name) {
            Some((_, content_type, text)) => respond(content_type, text),
            None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
        },
    }
}

fn respond(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // Small files, revalidated on each load: a new binary's page reaches tablets at once.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_assets_that_exist_and_holds_no_inline_code() {
        for (name, _, text) in ASSETS {
            assert!(!text.is_empty(), "{name} is empty");
        }
        for name in ["display.css", "display.js"] {
            assert!(PAGE.contains(&format!("display?asset={name}")), "{name}");
        }
        // No inline script or style, no inline event handler: the policy would refuse them.
        assert!(!PAGE.contains("<script>") && !PAGE.contains("<style"));
        assert!(!PAGE.to_lowercase().contains(" onclick="));
        // Texts from the API never go through innerHTML.
        for (name, _, text) in ASSETS {
            assert!(!text.contains("innerHTML"), "{name} uses innerHTML");
        }
    }
}
