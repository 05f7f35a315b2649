//! The deployment material under `deploy/`, checked without a container engine (none runs on
//! the machines these tests run on):
//!
//! - `files`: `compose.yaml` and every Kubernetes manifest parse as YAML and say what the
//!   operator's guide says (services and their health checks, probes on `/readyz` and
//!   `/healthz`, non-root pods, drain budgets, selectors that match, a kustomization that lists
//!   every manifest); every environment variable they set is one the server reads; the
//!   Dockerfile's stages, user, health check and entry point are there, and the dependency
//!   skeleton it builds first resolves to exactly the workspace's dependency graph.
//! - `runtime`: `deploy/entrypoint.sh` run for real, as the image runs it (`PATH` leading to
//!   the workspace's `concierge`, the image's environment), on fresh PostgreSQL databases:
//!   it migrates, execs the server (which then answers `/healthz`, `/readyz` and the image's
//!   health-check script), holds one LISTEN connection, exits 0 on SIGTERM within the budget
//!   the manifests give it; `RUN_MIGRATIONS=false` leaves the schema alone; and two replicas
//!   started together, as in `compose.yaml`, share sign-ins and booking events.
//!
//! The runtime tests need a PostgreSQL server (`DATABASE_URL`, else 127.0.0.1:5432); without one
//! they fail, they never skip.

mod files;
mod runtime;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// A file of `deploy/`.
pub fn deploy(path: &str) -> PathBuf {
    workspace().join("deploy").join(path)
}

/// The text of a workspace file.
#[track_caller]
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The YAML documents of a file (separated by `---` lines), merge keys (`<<: *anchor`)
/// applied, as JSON values. Empty documents (comments only) are left out.
#[track_caller]
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    let mut documents = Vec::new();
    let mut current = String::new();
    for line in text.lines().chain(std::iter::once("---")) {
        if line.trim_end() == "---" {
            let mut value: serde_norway::Value = serde_norway::from_str(&current)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
            value
                .apply_merge()
                .unwrap_or_else(|e| panic!("{}: bad merge key: {e}", path.display()));
            if !value.is_null() {
                documents.push(serde_json::to_value(&value).unwrap_or_else(|e| {
                    panic!("{}: not representable as JSON: {e}", path.display())
                }));
            }
            current.clear();
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents
}

/// The one YAML document of a file.
#[track_caller]
pub fn yaml(path: &Path) -> Value {
    let mut documents = yaml_documents(path);
    assert_eq!(
        documents.len(),
        1,
        "{} should hold one YAML document",
        path.display()
    );
    documents.remove(0)
}

/// The environment variables the server reads: every `get("NAME")` and `var("NAME")` of
/// `api/src/config.rs`, and `RUST_LOG` (read by the log filter in `api/src/serve.rs`).
pub fn server_variables() -> BTreeSet<String> {
    let config = read(&workspace().join("api/src/config.rs"));
    let mut names = BTreeSet::new();
    for opener in ["get(\"", "var(\""] {
        for (at, _) in config.match_indices(opener) {
            let rest = &config[at + opener.len()..];
            if let Some(end) = rest.find('"') {
                let name = &rest[..end];
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    let serve = read(&workspace().join("api/src/telemetry.rs"));
    if serve.contains("EnvFilter::try_from_default_env") {
        names.insert("RUST_LOG".to_owned());
    }
    for expected in ["LISTEN_ADDR", "DATABASE_URL", "JWT_SECRET", "CODE_PEPPER"] {
        assert!(
            names.contains(expected),
            "reading api/src/config.rs found no {expected}: {names:?}"
        );
    }
    names
}

/// The variables of `deploy/entrypoint.sh` (not the server's).
pub const ENTRYPOINT_VARIABLES: &[&str] = &["RUN_MIGRATIONS"];

/// What a manifest may set: the server's variables and the entrypoint's.
pub fn allowed_variables() -> BTreeSet<String> {
    let mut names = server_variables();
    names.extend(ENTRYPOINT_VARIABLES.iter().map(|s| (*s).to_owned()));
    names
}

/// `value` at a path of object keys and array indices, e.g. `at(&d, &["spec", "template"])`.
#[track_caller]
pub fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = value;
    for key in path {
        current = match key.parse::<usize>() {
            Ok(index) if current.is_array() => &current[index],
            _ => &current[*key],
        };
    }
    current
}

/// `value` as a string, or a panic naming `what`.
#[track_caller]
pub fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} should be a string, is {value}"))
}
