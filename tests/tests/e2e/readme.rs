//! The README's own examples, as written: every ```graphql block of README.md, in order, each
//! operation of a block in turn, against a fresh in-process server whose platform operator is
//! the one the README's start command bootstraps. Nothing of the documents is copied here, so
//! the README cannot drift from the API again.
//!
//! A reader carries values from one answer to the next; so does this test:
//! - the access token of the latest `login` or `changePassword` answer signs the next operations
//!   (as one pastes it into GraphiQL's headers);
//! - an object with an `id` gives the variable of its field's name (`organization { id }` gives
//!   `$organization`), the latest one winning;
//! - the fields of `credentials` give variables of their names (`$login`, `$temporaryPassword`);
//! - `$start`, `$end` and `$day` are tomorrow 09:00 to 10:00 UTC, as the README suggests.
//!
//! Each answer must have data and no error; an operation that declares a variable nothing
//! provides fails the test, naming it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use concierge_api::app::AppState;
use concierge_api::config::Config;
use concierge_storage_memory::{MemoryAttemptCounter, MemoryStore};
use concierge_tests::TestApp;
use serde_json::{Map, Value};

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The fenced blocks of `lang` (indented ones too, as in a list item), in order.
fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        let fence = line.trim();
        match &mut current {
            None if fence == format!("```{lang}") => current = Some(Vec::new()),
            Some(lines) if fence == "```" => {
                found.push(lines.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    assert!(
        current.is_none(),
        "a ```{lang} block of the README is not closed"
    );
    found
}

/// The value of `NAME=value` (or `NAME='value'`) in the README's start command.
fn setting(markdown: &str, name: &str) -> String {
    let command = blocks(markdown, "sh")
        .into_iter()
        .find(|block| block.contains(name))
        .unwrap_or_else(|| panic!("no ```sh block of the README sets {name}"));
    let after = command
        .split(&format!("{name}="))
        .nth(1)
        .unwrap_or_default();
    let value = match after.strip_prefix('\'') {
        Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
        None => after.split_whitespace().next().unwrap_or_default(),
    };
    assert!(!value.is_empty(), "the README's {name} is empty");
    value.to_owned()
}

/// The top-level definitions of a GraphQL document (operations split on their closing brace;
/// braces inside strings and comments do not count).
fn operations(document: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for (i, c) in document.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '#' => in_comment = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    found.push(document[start..=i].trim().to_owned());
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        document[start..].trim().is_empty(),
        "text after the last operation of a README block: {}",
        &document[start..]
    );
    found
}

/// What stands before the operation's selection set, comments left out.
fn header(operation: &str) -> String {
    let code: Vec<&str> = operation
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .collect();
    code.join("\n")
        .split('{')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The operation's kind and name (`mutation SignIn(...) {` gives `("mutation", "SignIn")`).
fn kind_and_name(operation: &str) -> (String, String) {
    let header = header(operation);
    let mut words = header
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty());
    let kind = words.next().unwrap_or("query").to_owned();
    let name = words.next().unwrap_or("(anonymous)").to_owned();
    (kind, name)
}

/// The variables the operation declares: `$name:` in its header.
fn declared(operation: &str) -> Vec<String> {
    let header = header(operation);
    header
        .split('$')
        .skip(1)
        .filter_map(|rest| rest.split(':').next())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// What a reader takes from an answer: ids by field name, credentials, the latest access token.
fn harvest(value: &Value, vars: &mut HashMap<String, Value>, token: &mut Option<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match field {
                    Value::String(text) if key == "accessToken" => *token = Some(text.clone()),
                    Value::Object(inner) if key == "credentials" => collect_strings(inner, vars),
                    Value::Object(inner) => {
                        if let Some(id @ Value::String(_)) = inner.get("id") {
                            vars.insert(key.clone(), id.clone());
                        }
                    }
                    _ => {}
                }
                harvest(field, vars, token);
            }
        }
        Value::Array(items) => {
            for item in items {
                harvest(item, vars, token);
            }
        }
        _ => {}
    }
}

fn collect_strings(fields: &Map<String, Value>, vars: &mut HashMap<String, Value>) {
    for (key, field) in fields {
        if field.is_string() {
            vars.insert(key.clone(), field.clone());
        }
    }
}

/// A fresh server on memory whose platform operator is the README's.
async fn readme_server(email: &str, password: &str) -> TestApp {
    let vars = [
        ("ARGON2_COST", "fast-insecure"),
        ("JWT_SECRET", "readme-jwt-secret"),
        ("CODE_PEPPER", "readme-pepper"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let config = Config::from_vars(&vars).expect("test configuration");
    let store = MemoryStore::new();
    let state = AppState::new(
        Arc::new(store.clone()),
        Arc::new(MemoryAttemptCounter::new()),
        &config,
    )
    .expect("app state");
    concierge_api::serve::bootstrap(&state, email, password)
        .await
        .unwrap_or_else(|e| panic!("the README's bootstrap operator ({email}) is refused: {e}"));
    TestApp {
        state,
        memory: Some(store),
        operator_token: String::new(),
    }
}

#[tokio::test]
async fn every_graphql_example_of_the_readme_works_in_order() {
    let markdown = readme();
    let email = setting(&markdown, "BOOTSTRAP_ADMIN_EMAIL");
    let password = setting(&markdown, "BOOTSTRAP_ADMIN_PASSWORD");
    let app = readme_server(&email, &password).await;

    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let at = |hour| {
        tomorrow
            .and_hms_opt(hour, 0, 0)
            .expect("a time")
            .and_utc()
            .to_rfc3339()
    };
    let mut vars: HashMap<String, Value> = HashMap::from([
        ("start".to_owned(), Value::from(at(9))),
        ("end".to_owned(), Value::from(at(10))),
        ("day".to_owned(), Value::from(tomorrow.to_string())),
    ]);
    let mut token: Option<String> = None;

    let mut ran = Vec::new();
    for block in blocks(&markdown, "graphql") {
        for operation in operations(&block) {
            let (kind, name) = kind_and_name(&operation);
            assert_ne!(
                kind, "subscription",
                "the README's {name} is a subscription: this test runs queries and mutations"
            );
            let mut variables = Map::new();
            for var in declared(&operation) {
                let value = vars.get(&var).unwrap_or_else(|| {
                    panic!("the README's {name} uses ${var}, which no earlier answer provides")
                });
                variables.insert(var, value.clone());
            }
            let answer = app
                .gql(token.as_deref(), &operation, Value::Object(variables))
                .await;
            assert!(
                answer.errors.is_empty() && !answer.data.is_null(),
                "the README's {name} fails as written: {:#?}",
                answer.errors
            );
            harvest(&answer.data, &mut vars, &mut token);
            ran.push(name);
        }
    }
    // The walk-through as the README tells it: a change of it that this test no longer sees
    // (a renamed fence, an operation merged away) must show here.
    for expected in [
        "SignIn",
        "NewPartner",
        "SignInAsAda",
        "ChooseAPassword",
        "NewCompany",
        "NewSite",
        "NewRoom",
        "NewUser",
        "Book",
        "Day",
        "Tablet",
    ] {
        assert!(
            ran.iter().any(|name| name == expected),
            "the README's {expected} did not run (ran {ran:?})"
        );
    }
}

#[test]
fn operations_are_split_on_their_own_braces_only() {
    let document = "mutation A($x: ID!) { a(input: {x: $x, s: \"{ not a brace\"}) { id } }\n# { nor this\nquery B { b }";
    let found = operations(document);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(kind_and_name(&found[0]), ("mutation".into(), "A".into()));
    assert_eq!(declared(&found[0]), ["x"]);
    assert_eq!(kind_and_name(&found[1]), ("query".into(), "B".into()));
}
