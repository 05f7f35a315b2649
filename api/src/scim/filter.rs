//! The part of SCIM's filter grammar (RFC 7644 §3.4.2.2) Concierge answers: equality tests joined
//! by `and`, e.g. `userName eq "ada@example.com"`, `emails.value eq "ada@example.com" and active
//! eq true`. Anything else — `or`, `not`, groupings, other operators, other attributes — is
//! refused with a clear `invalidFilter` rather than answered approximately. A compared string is
//! a JSON string (the RFC's `compValue`), read by `serde_json`.
//!
//! No SCIM filter crate was taken: the one on crates.io (`scim-filter`) evaluates a filter over
//! serialised in-memory collections, where the domain needs a lookup by login it can answer from
//! storage; the subset parsed here is a few lines.

use concierge_domain::ScimUserFilter;

/// A filter that cannot be answered: the message says why (SCIM `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFilter(pub String);

const USER_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";
const GROUP_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:group:";

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Bool(bool),
}

/// One `attribute eq value` test.
#[derive(Debug, Clone, PartialEq)]
struct Equality {
    /// Lower-cased, without the schema URN prefix.
    attribute: String,
    value: Value,
}

fn tokens(filter: &str) -> Result<Vec<Token>, InvalidFilter> {
    let mut out = Vec::new();
    let mut rest = filter.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            // The end of the JSON string: the first quote not escaped.
            let bytes = rest.as_bytes();
            let mut end = None;
            let mut escaped = false;
            for (i, b) in bytes.iter().enumerate().skip(1) {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| InvalidFilter("a string is not closed".into()))?;
            let text: String = serde_json::from_str(&rest[..=end])
                .map_err(|_| InvalidFilter("a string is not a valid JSON string".into()))?;
            out.push(Token::Text(text));
            rest = &rest[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            if word.contains(['(', ')', '"']) {
                return Err(InvalidFilter(
                    "groupings and complex attribute filters are not supported: use `attribute eq \"value\"` joined by `and`".into(),
                ));
            }
            out.push(Token::Word(word.to_owned()));
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// The equality tests of `filter`, which must all hold.
fn equalities(filter: &str, schema_prefix: &str) -> Result<Vec<Equality>, InvalidFilter> {
    let tokens = tokens(filter)?;
    if tokens.is_empty() {
        return Err(InvalidFilter("the filter is empty".into()));
    }
    let mut tests = Vec::new();
    let mut chunks = tokens.chunks(4).peekable();
    while let Some(chunk) = chunks.next() {
        let (attribute, operator, value) = match chunk {
            [Token::Word(a), Token::Word(o), v] | [Token::Word(a), Token::Word(o), v, _] => {
                (a, o, v)
            }
            _ => {
                return Err(InvalidFilter(
                    "expected `attribute eq value` (joined by `and`)".into(),
                ));
            }
        };
        if !operator.eq_ignore_ascii_case("eq") {
            return Err(InvalidFilter(format!(
                "the operator `{operator}` is not supported: only `eq`"
            )));
        }
        let value = match value {
            Token::Text(text) => Value::Text(text.clone()),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Token::Word(w) => {
                return Err(InvalidFilter(format!(
                    "`{w}` is not a value: quote strings, or use true or false"
                )));
            }
        };
        let lower = attribute.to_ascii_lowercase();
        let attribute = lower
            .strip_prefix(schema_prefix)
            .unwrap_or(&lower)
            .to_owned();
        tests.push(Equality { attribute, value });
        match chunk.get(3) {
            None => {}
            Some(Token::Word(join))
                if join.eq_ignore_ascii_case("and") && chunks.peek().is_none() =>
            {
                return Err(InvalidFilter("the filter ends with `and`".into()));
            }
            Some(Token::Word(join)) if join.eq_ignore_ascii_case("and") => {}
            Some(Token::Word(join)) if join.eq_ignore_ascii_case("or") => {
                return Err(InvalidFilter("`or` is not supported: only `and`".into()));
            }
            Some(_) => {
                return Err(InvalidFilter(
                    "expected `and` between two conditions".into(),
                ));
            }
        }
    }
    Ok(tests)
}

fn text(value: &Value, attribute: &str) -> Result<String, InvalidFilter> {
    match value {
        Value::Text(text) => Ok(text.clone()),
        Value::Bool(_) => Err(InvalidFilter(format!("`{attribute}` compares to a string"))),
    }
}

/// The `/Users` filter as the domain's [`ScimUserFilter`].
pub fn user_filter(filter: &str) -> Result<ScimUserFilter, InvalidFilter> {
    let mut out = ScimUserFilter::default();
    for test in equalities(filter, USER_SCHEMA_PREFIX)? {
        let slot = match test.attribute.as_str() {
            "username" => &mut out.user_name,
            "emails.value" | "emails" => &mut out.email,
            "active" => {
                let Value::Bool(active) = test.value else {
                    return Err(InvalidFilter("`active` compares to true or false".into()));
                };
                if out.active.replace(active).is_some_and(|a| a != active) {
                    return Err(InvalidFilter("`active` is tested twice".into()));
                }
                continue;
            }
            "externalid" => {
                return Err(InvalidFilter(
                    "externalId is not kept by Concierge: match people on userName".into(),
                ));
            }
            other => {
                return Err(InvalidFilter(format!(
                    "filtering on `{other}` is not supported: userName, emails.value and active are"
                )));
            }
        };
        let value = text(&test.value, &test.attribute)?;
        if slot.replace(value).is_some() {
            return Err(InvalidFilter(format!(
                "`{}` is tested twice",
                test.attribute
            )));
        }
    }
    Ok(out)
}

/// The `/Groups` filter: the display name it asks for.
pub fn group_filter(filter: &str) -> Result<String, InvalidFilter> {
    match equalities(filter, GROUP_SCHEMA_PREFIX)?.as_slice() {
        [test] if test.attribute == "displayname" => text(&test.value, "displayName"),
        _ => Err(InvalidFilter(
            "only `displayName eq \"…\"` is supported on Groups".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_and_email_and_active() {
        let f = user_filter(r#"userName eq "Ada@Example.com""#).expect("filter");
        assert_eq!(f.user_name.as_deref(), Some("Ada@Example.com"));
        let f = user_filter(r#"emails.value EQ "a b\"c" and active eq false"#).expect("filter");
        assert_eq!(f.email.as_deref(), Some("a b\"c"));
        assert_eq!(f.active, Some(false));
        let f = user_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#)
            .expect("filter");
        assert_eq!(f.user_name.as_deref(), Some("x"));
    }

    #[test]
    fn what_is_not_supported_is_refused() {
        for bad in [
            "",
            r#"userName co "x""#,
            r#"userName eq "x" or active eq true"#,
            r#"(userName eq "x")"#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"userName eq x"#,
            r#"userName eq "x" and"#,
            r#"userName eq "x"#,
            r#"title eq "x""#,
            r#"externalId eq "x""#,
            r#"active eq "yes""#,
            r#"userName eq "x" userName eq "y""#,
        ] {
            assert!(user_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn groups_by_display_name() {
        assert_eq!(
            group_filter(r#"displayName eq "Paris offices""#).expect("filter"),
            "Paris offices"
        );
        assert!(group_filter(r#"id eq "x""#).is_err());
    }
}
