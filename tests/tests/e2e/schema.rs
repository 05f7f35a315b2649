use concierge_api::graphql::schema_sdl;

/// `schema.graphql` is generated from the code; it must match what the code builds today.
#[test]
fn committed_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == schema_sdl(),
        "schema.graphql is out of date; regenerate it with: cargo run -- export-schema schema.graphql"
    );
}
