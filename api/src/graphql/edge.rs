//! The hardened edge of the schema: every error leaves with a code, and a document is bounded in
//! size, depth, complexity, fields and aliases before anything runs.
//!
//! Codes (as Apollo clients expect): `GRAPHQL_PARSE_FAILED` for syntax, `GRAPHQL_VALIDATION_FAILED`
//! for unknown fields and exceeded limits, `VALIDATION` (with `field`) for a bad argument or
//! variable value, `INTERNAL` for anything else that reached the client without a code.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Largest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Most field selections in one document (fragments counted where they are spread).
pub const MAX_FIELDS: usize = 500;
/// Most aliased fields in one document: each alias is one more execution of a resolver.
pub const MAX_ALIASES: usize = 30;
/// Most fields at the root of one operation.
pub const MAX_ROOT_FIELDS: usize = 30;

fn with_code(mut error: ServerError, code: &str, field: Option<&str>) -> ServerError {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", code);
    if let Some(field) = field {
        extensions.set("field", field);
    }
    error
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

/// `Invalid value for argument "input.start", expected type "DateTime"` names the input field
/// `start`: a client's bad value, not a bad document.
fn bad_value_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid value for argument ")?;
    let path = rest.strip_prefix('"')?.split('"').next()?;
    let field = path.rsplit('.').next()?;
    let field = field.split('[').next().unwrap_or(field);
    Some(field.to_owned())
}

/// An input value that failed to parse while a resolver read it.
fn is_input_parse_failure(message: &str) -> bool {
    message.starts_with("Failed to parse \"") || message.starts_with("Expected input type \"")
}

/// Gives every error of a response a code: the last line of defence.
pub fn ensure_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        if !has_code(error) && is_input_parse_failure(&error.message) {
            *error = with_code(error.clone(), "VALIDATION", None);
        } else if !has_code(error) {
            tracing::error!(message = %error.message, "error without a code");
            *error = with_code(ServerError::new("internal error", None), "INTERNAL", None);
        }
    }
    response
}

/// Most levels of selection sets and fragment spreads walked from an operation: the parser bounds
/// the nesting within one definition (64), this bounds chains of spreads, so that the walk below
/// never runs out of stack. No document that passes [`MAX_FIELDS`] comes near it.
pub const MAX_NESTING: usize = 256;

/// What a selection set costs once every fragment is expanded where it is spread.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Cost {
    fields: usize,
    aliases: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
    }
}

/// Why a document is refused before validation.
#[derive(Debug, PartialEq)]
enum Refusal {
    Aliases,
    Fields,
    /// A fragment that spreads itself, directly or through others.
    Cycle(String),
    TooDeep,
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Refusal::Aliases => format!("a document may hold at most {MAX_ALIASES} aliases"),
            Refusal::Fields => format!("a document may select at most {MAX_FIELDS} fields"),
            Refusal::Cycle(name) => format!("Cannot spread fragment \"{name}\" within itself"),
            Refusal::TooDeep => {
                format!("selections and fragment spreads may be nested at most {MAX_NESTING} deep")
            }
        }
    }
}

enum Memo {
    /// Being counted: meeting it again is a cycle.
    Counting,
    Counted(Cost),
}

/// Counts fields and aliases as if every fragment were expanded, in time linear in the
/// document: each fragment's cost is computed once and reused wherever it is spread, a cycle is
/// refused when it is met, and the walk stops as soon as a limit is passed.
struct Walk<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a str, Memo>,
    /// Selections looked at (for the tests: the work done).
    visits: usize,
}

impl<'a> Walk<'a> {
    fn new(doc: &'a ExecutableDocument) -> Self {
        Walk {
            doc,
            memo: HashMap::new(),
            visits: 0,
        }
    }

    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Cost, Refusal> {
        if depth > MAX_NESTING {
            return Err(Refusal::TooDeep);
        }
        let mut cost = Cost::default();
        for selection in &set.items {
            self.visits += 1;
            match &selection.node {
                Selection::Field(field) => {
                    cost.fields = cost.fields.saturating_add(1);
                    if field.node.alias.is_some() {
                        cost.aliases = cost.aliases.saturating_add(1);
                    }
                    cost.add(self.set(&field.node.selection_set.node, depth + 1)?);
                }
                Selection::FragmentSpread(spread) => {
                    cost.add(self.fragment(&spread.node.fragment_name.node, depth + 1)?);
                }
                Selection::InlineFragment(inline) => {
                    cost.add(self.set(&inline.node.selection_set.node, depth + 1)?);
                }
            }
            within_limits(cost)?;
        }
        Ok(cost)
    }

    fn fragment(&mut self, name: &'a str, depth: usize) -> Result<Cost, Refusal> {
        match self.memo.get(name) {
            Some(Memo::Counted(cost)) => return Ok(*cost),
            Some(Memo::Counting) => return Err(Refusal::Cycle(name.to_owned())),
            None => {}
        }
        // An unknown fragment costs nothing here: validation reports it.
        let Some((name, fragment)) = self.doc.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        self.memo.insert(name.as_str(), Memo::Counting);
        let cost = self.set(&fragment.node.selection_set.node, depth)?;
        self.memo.insert(name.as_str(), Memo::Counted(cost));
        Ok(cost)
    }

    /// The whole document: every operation, then every fragment (an unused one may hold a cycle
    /// too; those already counted cost nothing more).
    fn document(&mut self) -> Result<Cost, Refusal> {
        let mut total = Cost::default();
        for (_, operation) in self.doc.operations.iter() {
            total.add(self.set(&operation.node.selection_set.node, 0)?);
            within_limits(total)?;
        }
        let doc = self.doc;
        for name in doc.fragments.keys() {
            self.fragment(name.as_str(), 0)?;
        }
        Ok(total)
    }
}

fn within_limits(cost: Cost) -> Result<(), Refusal> {
    if cost.aliases > MAX_ALIASES {
        Err(Refusal::Aliases)
    } else if cost.fields > MAX_FIELDS {
        Err(Refusal::Fields)
    } else {
        Ok(())
    }
}

fn check_shape(doc: &ExecutableDocument) -> ServerResult<()> {
    let refuse = |message: String| {
        Err(with_code(
            ServerError::new(message, None),
            VALIDATION_FAILED,
            None,
        ))
    };
    for (_, operation) in doc.operations.iter() {
        if operation.node.selection_set.node.items.len() > MAX_ROOT_FIELDS {
            return refuse(format!(
                "an operation may select at most {MAX_ROOT_FIELDS} root fields"
            ));
        }
    }
    match Walk::new(doc).document() {
        Ok(_) => Ok(()),
        Err(refusal) => refuse(refusal.message()),
    }
}

/// The extension that applies all of the above.
pub struct Edge;

impl ExtensionFactory for Edge {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(EdgeExtension)
    }
}

struct EdgeExtension;

#[async_trait::async_trait]
impl Extension for EdgeExtension {
    /// The document is parsed and measured here, before async-graphql's own walks of it (its
    /// recursion-depth check follows every spread, and so does validation): a document whose
    /// cost explodes through fragments is refused before anything else looks at it. A document
    /// that does not parse goes on, to be refused by the parser with its position.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if request.query.len() > MAX_QUERY_BYTES {
            let message = format!("the query text may be at most {MAX_QUERY_BYTES} bytes");
            return Err(with_code(
                ServerError::new(message, None),
                VALIDATION_FAILED,
                None,
            ));
        }
        if let Ok(doc) = request.parsed_query() {
            check_shape(doc)?;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED, None))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| match bad_value_field(&error.message) {
                    Some(field) => with_code(error, "VALIDATION", Some(&field)),
                    None => with_code(error, VALIDATION_FAILED, None),
                })
                .collect()
        })
    }
}

/// A JSON error body for requests refused before they reach the schema.
pub fn refusal(message: &str, code: &str) -> serde_json::Value {
    let error = with_code(ServerError::new(message, None), code, None);
    serde_json::json!({ "data": Value::Null, "errors": [error] })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `query { ...F0 }` and `levels` fragments, each spreading the next twice, the last
    /// selecting one field: `2^levels` fields once expanded, from a document of a few lines.
    fn doubling_chain(levels: usize) -> String {
        let mut text = String::from("query { ...F0 }\n");
        for level in 0..levels {
            let next = level + 1;
            text.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
            ));
        }
        text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        text
    }

    fn walk(text: &str) -> (Result<Cost, Refusal>, usize) {
        let doc = async_graphql::parser::parse_query(text).expect("parses");
        let mut walk = Walk::new(&doc);
        let outcome = walk.document();
        (outcome, walk.visits)
    }

    #[test]
    fn a_chain_of_doubling_fragments_is_counted_once_per_fragment() {
        // 2^64 fields expanded: the walk stops at the limit after visiting each of the 65
        // fragments' two selections at most once (131 selections in the whole document).
        let (outcome, visits) = walk(&doubling_chain(64));
        assert_eq!(outcome, Err(Refusal::Fields));
        assert!(
            visits <= 131,
            "{visits} visits for a document of 131 selections"
        );
        // Below the limit the memoised counts are exact, for the same linear work.
        let (outcome, visits) = walk(&doubling_chain(8));
        assert_eq!(
            outcome,
            Ok(Cost {
                fields: 256,
                aliases: 0
            })
        );
        assert_eq!(visits, 1 + 2 * 8 + 1);
    }

    #[test]
    fn a_fragment_cycle_is_refused_after_a_bounded_walk() {
        let (outcome, visits) = walk("query { ...A } fragment A on Query { ...A ...A }");
        assert_eq!(outcome, Err(Refusal::Cycle("A".into())));
        assert!(visits <= 3, "{visits} visits");
        // Through another fragment, and in a fragment no operation uses.
        let (outcome, _) = walk(
            "query { ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        );
        assert!(matches!(outcome, Err(Refusal::Cycle(_))), "{outcome:?}");
        let (outcome, visits) = walk(
            "query { __typename } fragment C on Query { ...D ...D } fragment D on Query { ...C }",
        );
        assert!(matches!(outcome, Err(Refusal::Cycle(_))), "{outcome:?}");
        assert!(visits <= 4, "{visits} visits");
        // Refused as the validation error it is.
        let doc =
            async_graphql::parser::parse_query("query { ...A } fragment A on Query { ...A ...A }")
                .expect("parses");
        let error = check_shape(&doc).expect_err("a cycle is refused");
        assert!(error.message.contains("within itself"), "{}", error.message);
        assert_eq!(
            error.extensions.as_ref().and_then(|e| e.get("code")),
            Some(&Value::from(VALIDATION_FAILED))
        );
    }

    #[test]
    fn counting_stops_as_soon_as_a_limit_is_passed() {
        let many: Vec<String> = (0..2_000).map(|i| format!("f{i}")).collect();
        let (outcome, visits) = walk(&format!("{{ x {{ {} }} }}", many.join(" ")));
        assert_eq!(outcome, Err(Refusal::Fields));
        // `x` and the 501 fields below it: the nested set stops on its own count.
        assert_eq!(
            visits,
            1 + MAX_FIELDS + 1,
            "the walk went on past the limit"
        );
        let aliased: Vec<String> = (0..200).map(|i| format!("a{i}: f")).collect();
        let (outcome, visits) = walk(&format!("{{ x {{ {} }} }}", aliased.join(" ")));
        assert_eq!(outcome, Err(Refusal::Aliases));
        assert_eq!(visits, MAX_ALIASES + 2);
    }

    #[test]
    fn spread_chains_are_bounded_in_depth() {
        let mut text = String::from("query { ...F0 }\n");
        for level in 0..=MAX_NESTING {
            text.push_str(&format!(
                "fragment F{level} on Query {{ ...F{} }}\n",
                level + 1
            ));
        }
        text.push_str(&format!(
            "fragment F{} on Query {{ __typename }}\n",
            MAX_NESTING + 1
        ));
        assert_eq!(walk(&text).0, Err(Refusal::TooDeep));
    }

    #[test]
    fn bad_values_name_their_field() {
        assert_eq!(
            bad_value_field(
                r#"Invalid value for argument "input.start", expected type "DateTime""#
            )
            .as_deref(),
            Some("start")
        );
        assert_eq!(
            bad_value_field(r#"Invalid value for argument "first", expected type "Int""#)
                .as_deref(),
            Some("first")
        );
        assert_eq!(
            bad_value_field("Unknown field \"nope\" on type \"Query\""),
            None
        );
    }
}
