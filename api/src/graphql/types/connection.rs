//! Relay cursor connections. A cursor is the row's id, encoded so clients treat it as opaque.

use async_graphql::SimpleObject;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use concierge_domain::DomainError;

use crate::graphql::errors::to_graphql;

#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

pub fn encode_cursor(id: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("c:{id}"))
}

/// Whether the connection this resolver returns has its `totalCount` selected: counting every
/// match is a statement of its own, run only when asked for.
pub fn total_count_selected(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// The distinct keys of `keys`, for one batched load of a page's relation.
pub fn distinct<K: Ord>(keys: impl Iterator<Item = K>) -> Vec<K> {
    let mut keys: Vec<K> = keys.collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Decodes an `after` cursor; a malformed one is VALIDATION on `after`.
pub fn decode_cursor<T: std::str::FromStr>(
    cursor: Option<&str>,
) -> async_graphql::Result<Option<T>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || {
        to_graphql(DomainError::validation(
            "after",
            "is not a cursor of this list",
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix("c:").ok_or_else(invalid)?;
    id.parse().map(Some).map_err(|_| invalid())
}

/// Declares `<Name>Connection` and `<Name>Edge` for an object type.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $entity:ty) => {
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        #[derive(async_graphql::SimpleObject)]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub page_info: $crate::graphql::types::PageInfo,
            pub total_count: i64,
        }

        impl $connection {
            pub fn from_page(page: concierge_domain::Page<$entity>, after_given: bool) -> Self {
                let edges: Vec<$edge> = page
                    .items
                    .into_iter()
                    .map(|item| $edge {
                        cursor: $crate::graphql::types::encode_cursor(item.id),
                        node: <$node>::from(item),
                    })
                    .collect();
                let page_info = $crate::graphql::types::PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: after_given,
                    start_cursor: edges.first().map(|e| e.cursor.clone()),
                    end_cursor: edges.last().map(|e| e.cursor.clone()),
                };
                $connection {
                    edges,
                    page_info,
                    total_count: page.total_count,
                }
            }
        }
    };
}
pub(crate) use connection;
