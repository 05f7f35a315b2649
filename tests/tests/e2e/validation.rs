//! Connection arguments, the same on every list: `first` between 0 and 200, `after` a cursor of
//! this API. Bad ones are VALIDATION naming the argument (asked with a light selection, so that
//! the request stays within the cost limit and reaches the argument check).

use concierge_tests::TestApp;
use serde_json::{Value, json};

const LISTS: [&str; 4] = ["organizations", "users", "sites", "auditEvents"];

#[tokio::test]
async fn bad_connection_arguments_are_validation_errors_naming_them() {
    let app = TestApp::spawn().await;
    let token = app.operator_token.clone();
    let cases = [
        ("first", json!({"first": 1000})),
        ("first", json!({"first": 201})),
        ("first", json!({"first": -1})),
        ("after", json!({"after": "not a cursor"})),
        ("after", json!({"after": "Zm9v"})),
        ("after", json!({"after": ""})),
    ];
    for list in LISTS {
        let query = format!(
            "query($first: Int, $after: String) {{ {list}(first: $first, after: $after) {{ totalCount }} }}"
        );
        for (field, vars) in &cases {
            let r = app.gql(Some(&token), &query, vars.clone()).await;
            assert_eq!(
                (r.code(), r.field()),
                ("VALIDATION", Some(*field)),
                "{list} with {vars}: {:?}",
                r.errors
            );
            assert_eq!(r.data, Value::Null);
        }
    }
}

#[tokio::test]
async fn limits_of_first_are_accepted() {
    let app = TestApp::spawn().await;
    let token = app.operator_token.clone();
    for list in LISTS {
        let query = format!(
            "query($first: Int) {{ {list}(first: $first) {{ totalCount edges {{ cursor }} }} }}"
        );
        for first in [0, 200] {
            let r = app.gql(Some(&token), &query, json!({"first": first})).await;
            let edges = r.ok()[list]["edges"].as_array().expect("edges").len();
            assert!(edges <= first as usize, "{list} first {first}");
        }
    }
}
