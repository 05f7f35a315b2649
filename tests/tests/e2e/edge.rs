//! The hardened edge: every error carries a code, and oversized documents are refused before
//! anything runs — without taking the server down.

use concierge_tests::TestApp;
use serde_json::json;

/// The introspection query GraphiQL and code generators send.
pub const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}"#;

async fn still_serving(app: &TestApp) {
    let r = app
        .gql(Some(&app.operator_token), "{ me { login } }", json!({}))
        .await;
    assert!(r.ok()["me"]["login"].is_string());
}

#[tokio::test]
async fn the_standard_introspection_query_passes_every_limit() {
    let app = TestApp::spawn().await;
    let r = app.gql(None, INTROSPECTION, json!({})).await;
    let types = r.ok()["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == json!("User")));
}

#[tokio::test]
async fn syntax_errors_are_parse_failures() {
    let app = TestApp::spawn().await;
    let r = app
        .gql(Some(&app.operator_token), "{ me { login ", json!({}))
        .await;
    r.assert_error("GRAPHQL_PARSE_FAILED", None);
    still_serving(&app).await;
}

#[tokio::test]
async fn unknown_fields_are_validation_failures() {
    let app = TestApp::spawn().await;
    let r = app
        .gql(Some(&app.operator_token), "{ me { password } }", json!({}))
        .await;
    r.assert_error("GRAPHQL_VALIDATION_FAILED", None);
}

#[tokio::test]
async fn a_bad_scalar_value_is_validation_on_its_field() {
    let app = TestApp::spawn().await;
    let query = "query($from: DateTime) { auditEvents(filter: {from: $from}) { totalCount } }";
    let r = app
        .gql(
            Some(&app.operator_token),
            query,
            json!({"from": "yesterday"}),
        )
        .await;
    r.assert_error("VALIDATION", Some("from"));
    let r = app
        .gql(
            Some(&app.operator_token),
            "{ users(first: \"ten\") { totalCount } }",
            json!({}),
        )
        .await;
    r.assert_error("VALIDATION", Some("first"));
}

#[tokio::test]
async fn documents_nested_too_deep_are_refused() {
    let app = TestApp::spawn().await;
    let mut selection = "id".to_owned();
    for _ in 0..16 {
        selection = format!("parent {{ {selection} }}");
    }
    let query = format!("{{ me {{ organization {{ {selection} }} }} }}");
    let r = app.gql(Some(&app.operator_token), &query, json!({})).await;
    r.assert_error("GRAPHQL_VALIDATION_FAILED", None);
    still_serving(&app).await;
}

#[tokio::test]
async fn too_many_aliases_are_refused() {
    let app = TestApp::spawn().await;
    let fields: String = (0..31).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let r = app
        .gql(
            Some(&app.operator_token),
            &format!("{{ {fields} }}"),
            json!({}),
        )
        .await;
    r.assert_error("GRAPHQL_VALIDATION_FAILED", None);
    let fields: String = (0..5).map(|i| format!("a{i}: me {{ id }} ")).collect();
    assert!(
        app.gql(
            Some(&app.operator_token),
            &format!("{{ {fields} }}"),
            json!({})
        )
        .await
        .errors
        .is_empty()
    );
}

#[tokio::test]
async fn too_costly_pages_are_refused() {
    let app = TestApp::spawn().await;
    let node = "id firstName lastName displayName email username login language status mustChangePassword \
        hasBookingCode createdAt photoUrl externalContact organization { id name } profile { id name } \
        sites { id name } effectiveSites { id name } siteGroups { id name }";
    let query =
        format!("{{ users(first: 200) {{ totalCount edges {{ cursor node {{ {node} }} }} }} }}");
    let r = app.gql(Some(&app.operator_token), &query, json!({})).await;
    r.assert_error("GRAPHQL_VALIDATION_FAILED", None);
    let query =
        format!("{{ users(first: 20) {{ totalCount edges {{ cursor node {{ {node} }} }} }} }}");
    assert!(
        app.gql(Some(&app.operator_token), &query, json!({}))
            .await
            .errors
            .is_empty()
    );
}

#[tokio::test]
async fn oversized_query_text_is_refused() {
    let app = TestApp::spawn().await;
    let padding = " ".repeat(40 * 1024);
    let r = app
        .gql(
            Some(&app.operator_token),
            &format!("{{ me {{ id }} {padding} }}"),
            json!({}),
        )
        .await;
    r.assert_error("GRAPHQL_VALIDATION_FAILED", None);
    still_serving(&app).await;
}

#[tokio::test]
async fn an_invisible_object_is_null_beside_its_error() {
    let app = TestApp::spawn().await;
    let query =
        "{ organization(id: \"01a20834-47c5-767b-9bf0-5c710662c83d\") { id } me { login } }";
    let r = app.gql(Some(&app.operator_token), query, json!({})).await;
    r.assert_error("NOT_FOUND", None);
    let data = r.data.as_object().expect("data is an object");
    assert_eq!(data.get("organization"), Some(&serde_json::Value::Null));
    assert!(data["me"]["login"].is_string());
    assert_eq!(r.errors[0]["path"], json!(["organization"]));
}
