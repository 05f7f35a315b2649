//! Small helpers shared by the area modules: reading ids out of responses.

use serde_json::Value;

/// The `id` of each object of a list (`[{id …}]`).
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list:#}"))
        .iter()
        .map(|item| text(&item["id"]))
        .collect()
}

/// The `id` of each node of a connection (`{edges: [{node: {id}}]}`).
pub fn node_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a connection, got {connection:#}"))
        .iter()
        .map(|edge| text(&edge["node"]["id"]))
        .collect()
}

/// A string of a response, as an owned `String`.
pub use concierge_tests::tenant::text;

/// A well-formed ID that names nothing, and one that is not an ID at all.
pub const UNKNOWN_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
pub const MALFORMED_ID: &str = "not-an-id";

/// The value of one series (`name` or `name{labels}`, labels in Prometheus' sorted order) in a
/// Prometheus text exposition; `None` when it is absent.
pub fn metric(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
}
