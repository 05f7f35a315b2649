//! The hardened edge of the schema: every error leaves with a code, and a document is bounded in
//! size, depth, complexity, fields and aliases before anything runs.
//!
//! Codes (as Apollo clients expect): `GRAPHQL_PARSE_FAILED` for syntax, `GRAPHQL_VALIDATION_FAILED`
//! for unknown fields and exceeded limits, `VALIDATION` (with `field`) for a bad argument or
//! variable value, `INTERNAL` for anything else that reached the client without a code.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
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

struct Counts {
    fields: usize,
    aliases: usize,
}

fn count(doc: &ExecutableDocument, set: &SelectionSet, counts: &mut Counts, depth: usize) {
    // Fragment cycles are refused by validation; the depth bound keeps this walk finite before it.
    if depth > 64 {
        counts.fields = usize::MAX / 2;
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                counts.fields += 1;
                if field.node.alias.is_some() {
                    counts.aliases += 1;
                }
                count(doc, &field.node.selection_set.node, counts, depth + 1);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                    count(doc, &fragment.node.selection_set.node, counts, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                count(doc, &inline.node.selection_set.node, counts, depth + 1)
            }
        }
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
    let mut counts = Counts {
        fields: 0,
        aliases: 0,
    };
    for (_, operation) in doc.operations.iter() {
        let root = &operation.node.selection_set.node;
        if root.items.len() > MAX_ROOT_FIELDS {
            return refuse(format!(
                "an operation may select at most {MAX_ROOT_FIELDS} root fields"
            ));
        }
        count(doc, root, &mut counts, 0);
    }
    if counts.aliases > MAX_ALIASES {
        return refuse(format!("a document may hold at most {MAX_ALIASES} aliases"));
    }
    if counts.fields > MAX_FIELDS {
        return refuse(format!("a document may select at most {MAX_FIELDS} fields"));
    }
    Ok(())
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
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > MAX_QUERY_BYTES {
            let message = format!("the query text may be at most {MAX_QUERY_BYTES} bytes");
            return Err(with_code(
                ServerError::new(message, None),
                VALIDATION_FAILED,
                None,
            ));
        }
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED, None))?;
        check_shape(&doc)?;
        Ok(doc)
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
