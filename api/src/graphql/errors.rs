//! The one place where domain errors become GraphQL errors: a stable `extensions.code`, the
//! offending `field`, and never an internal detail (those are logged instead).

use std::str::FromStr;

use async_graphql::{Context, ErrorExtensions, ID};
use concierge_domain::{DomainError, DomainResult};

pub fn to_graphql(error: DomainError) -> async_graphql::Error {
    match &error {
        DomainError::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
        DomainError::Unavailable(detail) => {
            tracing::error!(detail = %detail, "storage unavailable")
        }
        _ => {}
    }
    let code = error.code().as_str();
    let field = error.field().map(str::to_owned);
    async_graphql::Error::new(error.public_message()).extend_with(|_, ext| {
        ext.set("code", code);
        if let Some(field) = &field {
            ext.set("field", field.as_str());
        }
    })
}

/// `?`-friendly conversion of domain results in resolvers.
pub trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for DomainResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_graphql)
    }
}

/// Parses an opaque ID. An ID that is not one of ours names nothing: NOT_FOUND, like an unknown one.
pub fn parse_id<T: FromStr>(id: &ID, what: &'static str) -> async_graphql::Result<T> {
    id.as_str()
        .parse()
        .map_err(|_| to_graphql(DomainError::NotFound(what)))
}

pub fn parse_opt_id<T: FromStr>(
    id: Option<&ID>,
    what: &'static str,
) -> async_graphql::Result<Option<T>> {
    id.map(|id| parse_id(id, what)).transpose()
}

pub fn parse_ids<T: FromStr>(
    ids: Option<&[ID]>,
    what: &'static str,
) -> async_graphql::Result<Option<Vec<T>>> {
    ids.map(|ids| ids.iter().map(|id| parse_id(id, what)).collect())
        .transpose()
}

/// A single-object query's answer: the object, or `null` beside its error (NOT_FOUND for what the
/// caller may not see), as the contract promises, rather than dropping the field from `data`.
pub fn nullable<T>(ctx: &Context<'_>, result: DomainResult<T>) -> async_graphql::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) => {
            let error = to_graphql(error).into_server_error(ctx.item.pos);
            ctx.add_error(ctx.set_error_path(error));
            Ok(None)
        }
    }
}
