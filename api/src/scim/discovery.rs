//! What the service provider says of itself (RFC 7644 §4): `ServiceProviderConfig`,
//! `ResourceTypes` and `Schemas`, describing exactly what `/Users` and `/Groups` answer.

use serde_json::{Value, json};

use super::resources::{GROUP_SCHEMA, USER_SCHEMA};

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [CONFIG_SCHEMA],
        "documentationUri": "https://github.com/concierge/concierge#provisioning",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": concierge_domain::SCIM_MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A SCIM token created with the createScimToken mutation",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person of the organization",
            "schema": USER_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A site group of the organization: its members are granted its sites",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": name,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none",
    })
}

fn complex(name: &str, multi: bool, mutability: &str, sub: Vec<Value>) -> Value {
    let mut out = attribute(name, "complex", false, mutability);
    out["multiValued"] = json!(multi);
    out["subAttributes"] = Value::Array(sub);
    out
}

fn reference(name: &str, to: &[&str], mutability: &str) -> Value {
    let mut out = attribute(name, "reference", false, mutability);
    out["referenceTypes"] = json!(to);
    out
}

pub fn schemas(base: &str) -> Vec<Value> {
    let mut user_name = attribute("userName", "string", true, "readWrite");
    user_name["uniqueness"] = json!("server");
    let user = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person of the organization",
        "attributes": [
            user_name,
            complex("name", false, "readWrite", vec![
                attribute("formatted", "string", false, "readOnly"),
                attribute("familyName", "string", false, "readWrite"),
                attribute("givenName", "string", false, "readWrite"),
            ]),
            attribute("displayName", "string", false, "readWrite"),
            attribute("preferredLanguage", "string", false, "readWrite"),
            attribute("active", "boolean", false, "readWrite"),
            complex("emails", true, "readWrite", vec![
                attribute("value", "string", false, "readWrite"),
                attribute("type", "string", false, "readWrite"),
                attribute("primary", "boolean", false, "readWrite"),
            ]),
            complex("groups", true, "readOnly", vec![
                attribute("value", "string", false, "readOnly"),
                reference("$ref", &["Group"], "readOnly"),
                attribute("display", "string", false, "readOnly"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    });
    let mut display = attribute("displayName", "string", true, "readOnly");
    display["uniqueness"] = json!("server");
    let group = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A site group of the organization",
        "attributes": [
            display,
            complex("members", true, "readWrite", vec![
                attribute("value", "string", false, "immutable"),
                reference("$ref", &["User"], "immutable"),
                attribute("display", "string", false, "readOnly"),
                attribute("type", "string", false, "immutable"),
            ]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    });
    vec![user, group]
}
