//! SCIM resources as JSON (RFC 7643): people and site groups out, people and PATCH operations
//! in. Only translation: what a change means is decided by the domain.

use concierge_domain as d;
use serde_json::{Map, Value, json};

use super::ScimError;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A person as a SCIM `User`.
pub fn user(base: &str, user: &d::User) -> Value {
    let mut out = json!({
        "schemas": [USER_SCHEMA],
        "id": user.id.to_string(),
        "userName": d::scim_user_name(user),
        "name": {
            "givenName": user.first_name.as_str(),
            "familyName": user.last_name.as_str(),
            "formatted": user.display_name(),
        },
        "displayName": user.display_name(),
        "active": user.status == d::UserStatus::Active,
        "preferredLanguage": user.language.code(),
        "meta": {
            "resourceType": "User",
            "created": user.created_at.to_rfc3339(),
            "lastModified": user.created_at.to_rfc3339(),
            "location": format!("{base}/Users/{}", user.id),
        },
    });
    if let Some(email) = &user.email {
        out["emails"] = json!([{"value": email.as_str(), "type": "work", "primary": true}]);
    }
    if !user.site_group_ids.is_empty() {
        out["groups"] = user
            .site_group_ids
            .iter()
            .map(|g| json!({"value": g.to_string(), "$ref": format!("{base}/Groups/{g}")}))
            .collect();
    }
    out
}

/// A site group as a SCIM `Group`; `members` when they were read.
pub fn group(base: &str, group: &d::SiteGroup, members: Option<&[d::User]>) -> Value {
    let mut out = json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id.to_string(),
        "displayName": group.name.as_str(),
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.to_rfc3339(),
            "lastModified": group.created_at.to_rfc3339(),
            "location": format!("{base}/Groups/{}", group.id),
        },
    });
    if let Some(members) = members {
        out["members"] = members
            .iter()
            .map(|u| {
                json!({
                    "value": u.id.to_string(),
                    "display": u.display_name(),
                    "type": "User",
                    "$ref": format!("{base}/Users/{}", u.id),
                })
            })
            .collect();
    }
    out
}

pub fn list(items: Vec<Value>, total: i64, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

/// Attribute names without case (RFC 7643 §2.1), and without the core schema's URN prefix.
fn key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let core = format!("{}:", USER_SCHEMA.to_ascii_lowercase());
    lower.strip_prefix(&core).unwrap_or(&lower).to_owned()
}

fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| key(k) == name).map(|(_, v)| v)
}

fn string(value: &Value, attribute: &str) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid_value(format!(
            "{attribute} must be a string"
        ))),
    }
}

/// `true`, `false`, and the strings `"True"` and `"False"` Entra ID sends in PATCH.
fn boolean(value: &Value, attribute: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!(
            "{attribute} must be true or false"
        ))),
    }
}

fn language(value: &Value) -> Result<Option<d::Language>, ScimError> {
    // `fr-FR`, `fr_CA`, `en-US`: the language part; a language Concierge does not speak is
    // ignored (the person keeps the organization's default).
    Ok(string(value, "preferredLanguage")?.and_then(|tag| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        d::Language::from_code(&primary)
    }))
}

/// The e-mail of `emails`: the primary one, else the first.
fn email(value: &Value) -> Result<Option<String>, ScimError> {
    let Value::Array(emails) = value else {
        if value.is_null() {
            return Ok(None);
        }
        return Err(ScimError::invalid_value("emails must be an array"));
    };
    let chosen = emails
        .iter()
        .find(|e| e.get("primary").is_some_and(|p| p == &Value::Bool(true)))
        .or_else(|| emails.first());
    match chosen {
        None => Ok(None),
        Some(entry) => match entry.get("value") {
            Some(v) => string(v, "emails.value"),
            None => Err(ScimError::invalid_value("an e-mail needs a value")),
        },
    }
}

/// The changes a PATCH or PUT carries, attribute by attribute. Attributes Concierge does not
/// keep (externalId, title, phone numbers, the enterprise extension…) are ignored.
#[derive(Debug, Default)]
pub struct Changes {
    pub changes: d::ScimUserChanges,
    pub display_name: Option<String>,
}

impl Changes {
    /// Applies one attribute (`name` already lower-cased, without the schema prefix).
    fn set(&mut self, name: &str, value: &Value) -> Result<(), ScimError> {
        let c = &mut self.changes;
        match name {
            "username" => {
                c.user_name = Some(
                    string(value, "userName")?
                        .ok_or_else(|| ScimError::invalid_value("userName is required"))?,
                );
            }
            "name" => {
                let Value::Object(name) = value else {
                    return Err(ScimError::invalid_value("name must be an object"));
                };
                for (sub, v) in name {
                    self.set(&format!("name.{}", sub.to_ascii_lowercase()), v)?;
                }
            }
            "name.givenname" => c.given_name = string(value, "name.givenName")?,
            "name.familyname" => c.family_name = string(value, "name.familyName")?,
            "displayname" => self.display_name = string(value, "displayName")?,
            "active" => c.active = Some(boolean(value, "active")?),
            "preferredlanguage" => c.language = language(value)?,
            "emails" => {
                if let Some(email) = email(value)? {
                    c.email = Some(email);
                }
            }
            // `emails[type eq "work"].value`: Entra ID's path for the work address.
            path if path.starts_with("emails[") && path.ends_with("].value") => {
                if let Some(email) = string(value, "emails.value")? {
                    c.email = Some(email);
                }
            }
            "emails.value" => {
                if let Some(email) = string(value, "emails.value")? {
                    c.email = Some(email);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A `User` body of POST or PUT.
pub fn user_input(body: &Value) -> Result<(d::ScimUserInput, Changes), ScimError> {
    let Value::Object(object) = body else {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    };
    let mut changes = Changes::default();
    for (name, value) in object {
        let name = key(name);
        if name == "schemas" || name == "id" || name == "meta" {
            continue;
        }
        changes.set(&name, value)?;
    }
    let user_name = changes
        .changes
        .user_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let active = match get(object, "active") {
        Some(v) => boolean(v, "active")?,
        None => true,
    };
    let input = d::ScimUserInput {
        user_name,
        given_name: changes.changes.given_name.clone(),
        family_name: changes.changes.family_name.clone(),
        display_name: changes.display_name.clone(),
        email: changes.changes.email.clone(),
        language: changes.changes.language,
        active,
    };
    changes.changes.active = Some(active);
    Ok((input, changes))
}

/// One operation of a PATCH request.
#[derive(Debug)]
pub struct Operation {
    /// `add`, `replace` or `remove`, lower-cased.
    pub op: String,
    pub path: Option<String>,
    pub value: Option<Value>,
}

pub fn operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let Value::Object(object) = body else {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    };
    let schemas_ok = get(object, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s == PATCH_OP));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body's schemas must hold {PATCH_OP}"
        )));
    }
    let Some(Value::Array(ops)) = get(object, "operations") else {
        return Err(ScimError::invalid_syntax("Operations must be an array"));
    };
    ops.iter()
        .map(|op| {
            let Value::Object(op) = op else {
                return Err(ScimError::invalid_syntax("an operation must be an object"));
            };
            let kind = get(op, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .filter(|k| ["add", "replace", "remove"].contains(&k.as_str()))
                .ok_or_else(|| ScimError::invalid_syntax("op must be add, replace or remove"))?;
            let path = get(op, "path")
                .map(|p| {
                    p.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| ScimError::invalid_path("path must be a string"))
                })
                .transpose()?;
            Ok(Operation {
                op: kind,
                path,
                value: get(op, "value").cloned(),
            })
        })
        .collect()
}

/// The changes of a PATCH of a `User`.
pub fn user_patch(operations: &[Operation]) -> Result<d::ScimUserChanges, ScimError> {
    let mut changes = Changes::default();
    for operation in operations {
        let path = operation.path.as_deref().map(key);
        if operation.op == "remove" {
            let Some(path) = path else {
                return Err(ScimError::no_target("remove needs a path"));
            };
            let kept = [
                "username",
                "name",
                "name.givenname",
                "name.familyname",
                "active",
            ];
            if kept.contains(&path.as_str()) || path.starts_with("emails") {
                return Err(ScimError::mutability(format!(
                    "{path} cannot be removed from a person"
                )));
            }
            continue;
        }
        let value = operation
            .value
            .as_ref()
            .ok_or_else(|| ScimError::invalid_value("add and replace need a value"))?;
        match path {
            Some(path) => changes.set(&path, value)?,
            None => {
                let Value::Object(attributes) = value else {
                    return Err(ScimError::invalid_value(
                        "without a path, the value must be an object of attributes",
                    ));
                };
                for (name, v) in attributes {
                    changes.set(&key(name), v)?;
                }
            }
        }
    }
    Ok(changes.changes)
}

/// The member ids a Group PATCH adds and removes; `replace` of `members` is given as the whole
/// new list (`Some`).
#[derive(Debug, Default)]
pub struct MemberChanges {
    pub add: Vec<String>,
    pub remove: Vec<String>,
    pub replace: Option<Vec<String>>,
}

fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => return Err(ScimError::invalid_value("members must be an array")),
    };
    items
        .into_iter()
        .map(|m| {
            m.get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ScimError::invalid_value("a member needs a value (a user id)"))
        })
        .collect()
}

pub fn group_patch(operations: &[Operation]) -> Result<MemberChanges, ScimError> {
    let mut out = MemberChanges::default();
    for operation in operations {
        let path = operation.path.as_deref().unwrap_or("").trim().to_owned();
        let lower = path.to_ascii_lowercase();
        if lower == "members" || (lower.is_empty() && operation.op != "remove") {
            let value = match (&operation.value, lower.is_empty()) {
                (Some(Value::Object(o)), true) => match get(o, "members") {
                    Some(m) => m.clone(),
                    None => {
                        return Err(ScimError::mutability(
                            "only a group's members change through SCIM",
                        ));
                    }
                },
                (Some(v), false) => v.clone(),
                _ => Value::Array(vec![]),
            };
            let ids = member_ids(&value)?;
            match operation.op.as_str() {
                "add" => out.add.extend(ids),
                "remove" => out.remove.extend(ids),
                _ => out.replace = Some(ids),
            }
        } else if operation.op == "remove" && lower.starts_with("members[") {
            // `members[value eq "<id>"]`
            let filter = &path["members[".len()..path.len().saturating_sub(1)];
            let id = filter
                .split_once(" eq ")
                .or_else(|| filter.split_once(" EQ "))
                .and_then(|(attr, value)| {
                    attr.trim()
                        .eq_ignore_ascii_case("value")
                        .then(|| serde_json::from_str::<String>(value.trim()).ok())
                        .flatten()
                })
                .ok_or_else(|| {
                    ScimError::invalid_path("expected members[value eq \"<user id>\"]")
                })?;
            out.remove.push(id);
        } else {
            return Err(ScimError::mutability(
                "only a group's members change through SCIM; its name and sites are managed in Concierge",
            ));
        }
    }
    Ok(out)
}
