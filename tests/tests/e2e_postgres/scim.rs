//! Provisioning from a directory (SCIM 2.0) through the real router: a token created by an
//! administrator (shown once, listed without secret, revocable, audited), people created, read,
//! found, paged, replaced, patched (Entra ID's quirks included) and deactivated with everything
//! deactivation ends; tokens that reach no other organization; site groups as SCIM groups; and an
//! independent SCIM client (Python's scim2-client) driving a server started here.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use concierge_api::http::router;
use concierge_tests::TestApp;
use concierge_tests::bookings::{book, floor, iso, tomorrow};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::text;

/// What a SCIM client sees of one exchange.
struct Scim {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn scim(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Scim {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/scim+json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let response = router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Scim {
        status,
        content_type,
        body,
    }
}

impl Scim {
    #[track_caller]
    fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {:#}", self.body);
        &self.body
    }

    /// A SCIM error of `status` (and `scimType`, when given).
    #[track_caller]
    fn expect_error(&self, status: StatusCode, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "body: {:#}", self.body);
        assert_eq!(
            self.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(self.body["status"], json!(status.as_u16().to_string()));
        assert_eq!(
            self.body["scimType"].as_str(),
            scim_type,
            "body: {:#}",
            self.body
        );
        assert!(self.content_type.starts_with("application/scim+json"));
    }
}

const CREATE_TOKEN: &str = "mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) {
    token scimToken { id name profile { id } siteGroup { id } site { id } createdBy { id } revokedAt } } }";

/// A SCIM token of `org_id` created by the holder of `admin`: (token id, secret).
async fn scim_token(app: &TestApp, admin: &str, org_id: &str, extra: Value) -> (String, String) {
    let mut input = json!({"organizationId": org_id, "name": "Entra ID"});
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            input.insert(k.clone(), v.clone());
        }
    }
    let r = app
        .gql(Some(admin), CREATE_TOKEN, json!({"i": input}))
        .await;
    let payload = &r.ok()["createScimToken"];
    (text(&payload["scimToken"]["id"]), text(&payload["token"]))
}

fn person(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true,
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// Create, read, find, page, replace, patch: what the directory sends is what Concierge holds.
pub async fn a_directory_provisions_people_over_scim(app: &TestApp) {
    let (_, company) = app.company("Scim Provision").await;
    let admin = company.admin_token.clone();
    let (token_id, token) = scim_token(app, &admin, &company.id, json!({})).await;
    assert!(token.starts_with("scim_"));

    // Listed without secret; creation audited.
    let r = app
        .gql(
            Some(&admin),
            "query($o: ID) { scimTokens(organizationId: $o) { id name revokedAt createdBy { id } profile { name } } }",
            json!({"o": company.id}),
        )
        .await;
    let tokens = r.ok()["scimTokens"].clone();
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
    assert_eq!(tokens[0]["id"], json!(token_id));
    assert_eq!(tokens[0]["createdBy"]["id"], json!(company.admin_id));
    assert_eq!(tokens[0]["profile"]["name"], json!("Enterprise"));
    assert!(
        !tokens.to_string().contains(&token),
        "the secret is shown once"
    );
    let audited = app.audit_events(&admin, "scim.token_created").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["targetId"], json!(token_id));

    // Discovery.
    let config = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/ServiceProviderConfig",
        None,
    )
    .await;
    assert_eq!(
        config.expect(StatusCode::OK)["patch"]["supported"],
        json!(true)
    );
    assert!(config.content_type.starts_with("application/scim+json"));
    let types = scim(app, Some(&token), "GET", "/scim/v2/ResourceTypes", None).await;
    assert_eq!(types.expect(StatusCode::OK)["totalResults"], json!(2));
    let schemas = scim(app, Some(&token), "GET", "/scim/v2/Schemas", None).await;
    assert_eq!(
        schemas.expect(StatusCode::OK)["Resources"][0]["id"],
        json!("urn:ietf:params:scim:schemas:core:2.0:User")
    );

    // Create.
    let created = scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(person("ada@scim.test", "Ada", "Lovelace")),
    )
    .await;
    let ada = created.expect(StatusCode::CREATED).clone();
    let ada_id = text(&ada["id"]);
    assert_eq!(ada["userName"], json!("ada@scim.test"));
    assert_eq!(ada["active"], json!(true));
    assert_eq!(ada["name"]["familyName"], json!("Lovelace"));
    assert_eq!(ada["meta"]["resourceType"], json!("User"));
    // In Concierge: a person of the company, with the organization's default profile.
    let r = app
        .gql(Some(&admin), "query($id: ID!) { user(id: $id) { login status organization { id } profile { name } } }", json!({"id": ada_id}))
        .await;
    let seen = r.ok()["user"].clone();
    assert_eq!(seen["login"], json!("ada@scim.test"));
    assert_eq!(seen["status"], json!("ACTIVE"));
    assert_eq!(seen["organization"]["id"], json!(company.id));
    assert_eq!(seen["profile"]["name"], json!("Enterprise"));
    // A taken userName is a uniqueness conflict.
    scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(person("ada@scim.test", "Ada", "Again")),
    )
    .await
    .expect_error(StatusCode::CONFLICT, Some("uniqueness"));
    // A userName without e-mail shape is a username; names are required.
    let bob = scim(app, Some(&token), "POST", "/scim/v2/Users", Some(json!({"userName": "bob.builder",
        "name": {"givenName": "Bob", "familyName": "Builder"}, "emails": [{"value": "bob@scim.test", "primary": true}]}))).await;
    let bob_id = text(&bob.expect(StatusCode::CREATED)["id"]);
    assert_eq!(bob.body["userName"], json!("bob.builder"));
    assert_eq!(bob.body["emails"][0]["value"], json!("bob@scim.test"));
    scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "nameless@scim.test"})),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));
    let carol = scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(person("carol@scim.test", "Carol", "Shaw")),
    )
    .await;
    let carol_id = text(&carol.expect(StatusCode::CREATED)["id"]);

    // Read.
    let got = scim(
        app,
        Some(&token),
        "GET",
        &format!("/scim/v2/Users/{ada_id}"),
        None,
    )
    .await;
    assert_eq!(
        got.expect(StatusCode::OK)["userName"],
        json!("ada@scim.test")
    );

    // Filter: any case of the userName, an e-mail, active.
    let by_name = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22ADA@scim.test%22",
        None,
    )
    .await;
    let list = by_name.expect(StatusCode::OK);
    assert_eq!(list["totalResults"], json!(1));
    assert_eq!(list["Resources"][0]["id"], json!(ada_id));
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    let by_email = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=emails.value%20eq%20%22bob@scim.test%22",
        None,
    )
    .await;
    assert_eq!(
        by_email.expect(StatusCode::OK)["Resources"][0]["id"],
        json!(bob_id)
    );
    let nobody = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22nobody@scim.test%22",
        None,
    )
    .await;
    assert_eq!(nobody.expect(StatusCode::OK)["totalResults"], json!(0));
    assert_eq!(nobody.body["Resources"], json!([]));
    scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=userName%20co%20%22ada%22",
        None,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));
    scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22a%22%20or%20active%20eq%20true",
        None,
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidFilter"));

    // Pagination: the administrator, Ada, Bob, Carol in creation order.
    let page = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?startIndex=2&count=2",
        None,
    )
    .await;
    let page = page.expect(StatusCode::OK);
    assert_eq!(page["totalResults"], json!(4));
    assert_eq!(page["startIndex"], json!(2));
    assert_eq!(page["itemsPerPage"], json!(2));
    let ids: Vec<String> = page["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| text(&r["id"]))
        .collect();
    assert_eq!(ids, vec![ada_id.clone(), bob_id.clone()]);
    let last = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?startIndex=4&count=10",
        None,
    )
    .await;
    assert_eq!(
        last.expect(StatusCode::OK)["Resources"][0]["id"],
        json!(carol_id)
    );
    let past = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?startIndex=9",
        None,
    )
    .await;
    assert_eq!(past.expect(StatusCode::OK)["itemsPerPage"], json!(0));

    // Replace (PUT).
    let mut replaced = person("ada@scim.test", "Ada", "King");
    replaced["preferredLanguage"] = json!("fr-FR");
    let put = scim(
        app,
        Some(&token),
        "PUT",
        &format!("/scim/v2/Users/{ada_id}"),
        Some(replaced),
    )
    .await;
    let put = put.expect(StatusCode::OK);
    assert_eq!(put["name"]["familyName"], json!("King"));
    assert_eq!(put["preferredLanguage"], json!("fr"));
    // A username never changes.
    scim(
        app,
        Some(&token),
        "PUT",
        &format!("/scim/v2/Users/{bob_id}"),
        Some(json!({"userName": "robert",
        "name": {"givenName": "Bob", "familyName": "Builder"}})),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));

    // PATCH, as Entra ID sends it (capitalised op, value without path, e-mail by filter path).
    let patched = scim(app, Some(&token), "PATCH", &format!("/scim/v2/Users/{carol_id}"), Some(patch(json!([
        {"op": "Replace", "path": "name.givenName", "value": "Caroline"},
        {"op": "Add", "value": {"name.familyName": "Shaw-Smith", "externalId": "e-42"}},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "caroline@scim.test"},
        {"op": "replace", "path": "userName", "value": "caroline@scim.test"},
    ])))).await;
    let patched = patched.expect(StatusCode::OK);
    assert_eq!(patched["name"]["givenName"], json!("Caroline"));
    assert_eq!(patched["name"]["familyName"], json!("Shaw-Smith"));
    assert_eq!(patched["userName"], json!("caroline@scim.test"));
    let r = app
        .gql(
            Some(&admin),
            "query($id: ID!) { user(id: $id) { login firstName } }",
            json!({"id": carol_id}),
        )
        .await;
    assert_eq!(r.ok()["user"]["login"], json!("caroline@scim.test"));
    // A PATCH that is not a PatchOp, or removes what a person must have, changes nothing.
    scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{carol_id}"),
        Some(json!({"Operations": []})),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{carol_id}"),
        Some(patch(json!([{"op": "remove", "path": "userName"}]))),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{carol_id}"),
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        )),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("invalidValue"));

    // DELETE deactivates; a PATCH of active brings the person back.
    let deleted = scim(
        app,
        Some(&token),
        "DELETE",
        &format!("/scim/v2/Users/{bob_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = scim(
        app,
        Some(&token),
        "GET",
        &format!("/scim/v2/Users/{bob_id}"),
        None,
    )
    .await;
    assert_eq!(gone.expect(StatusCode::OK)["active"], json!(false));
    let inactive = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Users?filter=active%20eq%20false",
        None,
    )
    .await;
    assert_eq!(inactive.expect(StatusCode::OK)["totalResults"], json!(1));
    let back = scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{bob_id}"),
        Some(patch(json!([
            {"op": "Replace", "path": "active", "value": "True"}
        ]))),
    )
    .await;
    assert_eq!(back.expect(StatusCode::OK)["active"], json!(true));
}

/// `active: false` through SCIM is Concierge's deactivation: sessions end, upcoming bookings are
/// cancelled, the audit log says who did it.
pub async fn a_scim_deactivation_ends_sessions_and_cancels_bookings(app: &TestApp) {
    let f = floor(app, "ScimFloor").await;
    let admin = f.company.admin_token.clone();
    let booked = book(app, &f.booker_token, json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0)), "title": "Standup"})).await;
    let booking = text(&booked.ok()["createBooking"]["booking"]["id"]);
    app.gql(Some(&f.booker_token), "{ me { id } }", json!({}))
        .await
        .ok();

    let (_, token) = scim_token(app, &admin, &f.company.id, json!({})).await;
    // Entra ID's deprovisioning: a PATCH of active with the string "False".
    let r = scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{}", f.booker_id),
        Some(patch(json!([
            {"op": "Replace", "path": "active", "value": "False"}
        ]))),
    )
    .await;
    assert_eq!(r.expect(StatusCode::OK)["active"], json!(false));

    // Their session ended at once.
    app.gql(Some(&f.booker_token), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    // Their upcoming booking is cancelled.
    let r = app
        .gql(
            Some(&admin),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { id status } } } }",
            json!({"r": f.room}),
        )
        .await;
    let edges = r.ok()["bookings"]["edges"].clone();
    let status = edges
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["id"] == json!(booking))
        .map(|e| e["node"]["status"].clone());
    assert_eq!(status, Some(json!("CANCELLED")));
    // Audited as a deactivation by the token's creator.
    let events = app.audit_events(&admin, "user.deactivated").await;
    assert!(
        events.iter().any(|e| e["targetId"] == json!(f.booker_id)
            && e["actor"]["id"] == json!(f.company.admin_id)),
        "{events:#?}"
    );

    // The token acts as its creator, who cannot deactivate themselves: a PATCH that also
    // renames them is refused whole, the name unchanged.
    let refused = scim(
        app,
        Some(&token),
        "PATCH",
        &format!("/scim/v2/Users/{}", f.company.admin_id),
        Some(patch(json!([
            {"op": "replace", "path": "name.givenName", "value": "Renamed"},
            {"op": "replace", "path": "active", "value": false}
        ]))),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let creator = scim(
        app,
        Some(&token),
        "GET",
        &format!("/scim/v2/Users/{}", f.company.admin_id),
        None,
    )
    .await;
    let creator = creator.expect(StatusCode::OK);
    assert_eq!(creator["active"], json!(true));
    assert_ne!(creator["name"]["givenName"], json!("Renamed"));
}

/// One organization's token sees nothing of another's people (404), a revoked or unknown token
/// is 401, and nobody scopes a token to more than they could grant.
pub async fn scim_tokens_stay_in_their_organization(app: &TestApp) {
    let (partner, alpha) = app.company("Scim Alpha").await;
    let beta = app.create_company(&partner, "Scim Beta").await;
    let (alpha_token_id, alpha_token) =
        scim_token(app, &alpha.admin_token, &alpha.id, json!({})).await;
    let (_, beta_token) = scim_token(app, &beta.admin_token, &beta.id, json!({})).await;
    let beta_person = scim(
        app,
        Some(&beta_token),
        "POST",
        "/scim/v2/Users",
        Some(person("bea@beta.test", "Bea", "Beta")),
    )
    .await;
    let beta_id = text(&beta_person.expect(StatusCode::CREATED)["id"]);

    let path = format!("/scim/v2/Users/{beta_id}");
    scim(app, Some(&alpha_token), "GET", &path, None)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    scim(
        app,
        Some(&alpha_token),
        "PATCH",
        &path,
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    scim(
        app,
        Some(&alpha_token),
        "PUT",
        &path,
        Some(person("bea@beta.test", "Bea", "Alpha")),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    scim(app, Some(&alpha_token), "DELETE", &path, None)
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    scim(
        app,
        Some(&alpha_token),
        "GET",
        "/scim/v2/Users/not-an-id",
        None,
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
    let found = scim(
        app,
        Some(&alpha_token),
        "GET",
        "/scim/v2/Users?filter=userName%20eq%20%22bea@beta.test%22",
        None,
    )
    .await;
    assert_eq!(found.expect(StatusCode::OK)["totalResults"], json!(0));
    let all = scim(app, Some(&alpha_token), "GET", "/scim/v2/Users", None).await;
    assert!(!all.expect(StatusCode::OK).to_string().contains(&beta_id));
    // Beta's person is untouched.
    let still = scim(app, Some(&beta_token), "GET", &path, None).await;
    assert_eq!(still.expect(StatusCode::OK)["active"], json!(true));

    // No token, a wrong one, another kind of token: 401.
    scim(app, None, "GET", "/scim/v2/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    scim(
        app,
        Some("scim_not-a-real-token"),
        "GET",
        "/scim/v2/Users",
        None,
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, None);
    scim(app, Some(&alpha.admin_token), "GET", "/scim/v2/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    // A SCIM token is no GraphQL token.
    app.gql(Some(&alpha_token), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);

    // Revoked: refused at once, audited; revoking again is fine. Another tenant cannot revoke it.
    let revoke = "mutation($i: RevokeScimTokenInput!) { revokeScimToken(input: $i) { scimToken { id revokedAt } } }";
    app.gql(
        Some(&beta.admin_token),
        revoke,
        json!({"i": {"scimTokenId": alpha_token_id}}),
    )
    .await
    .assert_error("NOT_FOUND", None);
    let r = app
        .gql(
            Some(&alpha.admin_token),
            revoke,
            json!({"i": {"scimTokenId": alpha_token_id}}),
        )
        .await;
    assert!(r.ok()["revokeScimToken"]["scimToken"]["revokedAt"].is_string());
    scim(app, Some(&alpha_token), "GET", "/scim/v2/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    app.gql(
        Some(&alpha.admin_token),
        revoke,
        json!({"i": {"scimTokenId": alpha_token_id}}),
    )
    .await
    .ok();
    assert_eq!(
        app.audit_events(&alpha.admin_token, "scim.token_revoked")
            .await
            .len(),
        1
    );

    // No escalation: a manager of people with a narrow profile may scope a token only to a
    // profile they could grant, and the people it creates get that profile.
    let (manager_id, manager) = app
        .member(
            &alpha.admin_token,
            &alpha.id,
            json!({"users": "MANAGE", "modules": ["directory"]}),
            json!({}),
        )
        .await;
    let r = app
        .gql(
            Some(&manager),
            CREATE_TOKEN,
            json!({"i": {"organizationId": alpha.id, "name": "Okta"}}),
        )
        .await;
    r.assert_error("FORBIDDEN", Some("profileId"));
    let narrow = app
        .create_profile(
            &alpha.admin_token,
            &alpha.id,
            "Staff",
            json!({"modules": ["directory"]}),
        )
        .await;
    let (_, scoped) = scim_token(app, &manager, &alpha.id, json!({"profileId": narrow})).await;
    let staff = scim(
        app,
        Some(&scoped),
        "POST",
        "/scim/v2/Users",
        Some(person("sam@alpha.test", "Sam", "Staff")),
    )
    .await;
    let staff_id = text(&staff.expect(StatusCode::CREATED)["id"]);
    let r = app
        .gql(
            Some(&alpha.admin_token),
            "query($id: ID!) { user(id: $id) { profile { id } } }",
            json!({"id": staff_id}),
        )
        .await;
    assert_eq!(r.ok()["user"]["profile"]["id"], json!(narrow));
    // That token cannot touch someone holding more than its creator (the administrator).
    scim(
        app,
        Some(&scoped),
        "PATCH",
        &format!("/scim/v2/Users/{}", alpha.admin_id),
        Some(patch(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, None);
    // Deactivating the token's creator stops the token.
    app.gql(
        Some(&alpha.admin_token),
        "mutation($i: UserIdInput!) { deactivateUser(input: $i) { user { status } } }",
        json!({"i": {"userId": manager_id}}),
    )
    .await
    .ok();
    scim(app, Some(&scoped), "GET", "/scim/v2/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
    // Someone who may not manage people creates no token, nor reads the list.
    let (_, reader) = app
        .member(
            &alpha.admin_token,
            &alpha.id,
            json!({"users": "READ", "modules": ["directory"]}),
            json!({}),
        )
        .await;
    app.gql(
        Some(&reader),
        CREATE_TOKEN,
        json!({"i": {"organizationId": alpha.id, "name": "Okta"}}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    app.gql(
        Some(&reader),
        "query($o: ID) { scimTokens(organizationId: $o) { id } }",
        json!({"o": alpha.id}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    // Another tenant's organization is not found.
    app.gql(
        Some(&beta.admin_token),
        CREATE_TOKEN,
        json!({"i": {"organizationId": alpha.id, "name": "Okta"}}),
    )
    .await
    .assert_error("NOT_FOUND", None);
    // The partner acts in its client with clients: MANAGE; its token for Beta still reaches
    // only Beta's people, not the partner's own nor its other clients'.
    let (_, partner_token) = scim_token(app, &partner.admin_token, &beta.id, json!({})).await;
    let seen = scim(app, Some(&partner_token), "GET", &path, None).await;
    assert_eq!(seen.expect(StatusCode::OK)["id"], json!(beta_id));
    for outsider in [&alpha.admin_id, &partner.admin_id] {
        scim(
            app,
            Some(&partner_token),
            "GET",
            &format!("/scim/v2/Users/{outsider}"),
            None,
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
        scim(
            app,
            Some(&partner_token),
            "PATCH",
            &format!("/scim/v2/Users/{outsider}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    }
    let found = scim(
        app,
        Some(&partner_token),
        "GET",
        &format!(
            "/scim/v2/Users?filter=userName%20eq%20%22{}%22",
            alpha.admin_email
        ),
        None,
    )
    .await;
    assert_eq!(found.expect(StatusCode::OK)["totalResults"], json!(0));
    let all = scim(app, Some(&partner_token), "GET", "/scim/v2/Users", None).await;
    let all = all.expect(StatusCode::OK).to_string();
    assert!(!all.contains(&alpha.admin_id) && !all.contains(&partner.admin_id));
}

/// Site groups are SCIM groups: listed, read with their members, members added and removed.
pub async fn site_groups_are_scim_groups(app: &TestApp) {
    let (_, company) = app.company("Scim Groups").await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Lyon").await;
    let group = app
        .create_site_group(&admin, &company.id, "Lyon offices", &[&site])
        .await;
    let (_, token) = scim_token(app, &admin, &company.id, json!({"siteGroupId": group})).await;
    let created = scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(person("gus@groups.test", "Gus", "Group")),
    )
    .await;
    let gus = text(&created.expect(StatusCode::CREATED)["id"]);
    // The token's site group was granted.
    assert_eq!(created.body["groups"][0]["value"], json!(group));
    let other = scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Users",
        Some(person("olga@groups.test", "Olga", "Other")),
    )
    .await;
    let olga = text(&other.expect(StatusCode::CREATED)["id"]);

    let list = scim(
        app,
        Some(&token),
        "GET",
        "/scim/v2/Groups?filter=displayName%20eq%20%22lyon%20offices%22",
        None,
    )
    .await;
    let list = list.expect(StatusCode::OK);
    assert_eq!(list["totalResults"], json!(1));
    assert_eq!(list["Resources"][0]["id"], json!(group));
    let path = format!("/scim/v2/Groups/{group}");
    let got = scim(app, Some(&token), "GET", &path, None).await;
    let members: Vec<String> = got.expect(StatusCode::OK)["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| text(&m["value"]))
        .collect();
    assert_eq!(members, vec![gus.clone(), olga.clone()]);

    let removed = scim(
        app,
        Some(&token),
        "PATCH",
        &path,
        Some(patch(json!([
            {"op": "remove", "path": format!("members[value eq \"{gus}\"]")}
        ]))),
    )
    .await;
    let members: Vec<String> = removed.expect(StatusCode::OK)["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| text(&m["value"]))
        .collect();
    assert_eq!(members, vec![olga.clone()]);
    let added = scim(
        app,
        Some(&token),
        "PATCH",
        &path,
        Some(patch(json!([
            {"op": "Add", "path": "members", "value": [{"value": gus}]}
        ]))),
    )
    .await;
    assert_eq!(
        added.expect(StatusCode::OK)["members"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // The group's name is Concierge's; groups are not created by the directory.
    scim(
        app,
        Some(&token),
        "PATCH",
        &path,
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "X"}]),
        )),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, Some("mutability"));
    scim(
        app,
        Some(&token),
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "New"})),
    )
    .await
    .expect_error(StatusCode::FORBIDDEN, None);
    // Another company's group is not found.
    let (_, elsewhere) = app.company("Scim Groups Elsewhere").await;
    let far = app
        .create_site(&elsewhere.admin_token, &elsewhere.id, "Far")
        .await;
    let foreign = app
        .create_site_group(&elsewhere.admin_token, &elsewhere.id, "Foreign", &[&far])
        .await;
    scim(
        app,
        Some(&token),
        "GET",
        &format!("/scim/v2/Groups/{foreign}"),
        None,
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, None);
}

/// The Python interpreter with `scim2-client` installed: `SCIM_CLIENT_PYTHON`, else the virtual
/// environment `scripts/test` makes under `target/`. Never skipped: missing, the test fails
/// with the command that installs it.
fn scim_client_python() -> PathBuf {
    let python = std::env::var_os("SCIM_CLIENT_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scim-venv/bin/python"),
        PathBuf::from,
    );
    let usable = std::process::Command::new(&python)
        .args(["-c", "import scim2_client.engines.httpx2, scim2_models"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        usable,
        "the SCIM client test needs Python with scim2-client at {}. Run ./scripts/test, or once:\n  \
         python3 -m venv target/scim-venv && target/scim-venv/bin/pip install 'scim2-client[httpx2]==0.13.2' 'scim2-models==0.12.3'",
        python.display()
    );
    python
}

/// An independent SCIM client (scim2-client) against a server listening here: it discovers the
/// server, creates, finds, pages, patches and deactivates a person, validating every answer.
pub async fn an_independent_scim_client_provisions_a_person(app: &TestApp) {
    let python = scim_client_python();
    let (_, company) = app.company("Scim Client").await;
    let (_, token) = scim_token(app, &company.admin_token, &company.id, json!({})).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("address");
    let server = tokio::spawn(
        axum::serve(
            listener,
            router(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .into_future(),
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scim/provision.py");
    let base = format!("http://{addr}/scim/v2");
    let suffix = company.id.replace('-', "");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([&base, &token, &suffix])
            .output()
            .expect("run the SCIM client")
    })
    .await
    .expect("the SCIM client ran");
    server.abort();
    assert!(
        output.status.success(),
        "the SCIM client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the SCIM client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(seen["patch_supported"], json!(true));
    assert_eq!(seen["created_active"], json!(true));
    assert_eq!(seen["filtered_total"], json!(1));
    assert_eq!(seen["filtered_ids"], json!([seen["id"]]));
    // The administrator and the new person: the second page of one holds one.
    assert_eq!(seen["page_total"], json!(2));
    assert_eq!(seen["page_start_index"], json!(2));
    assert_eq!(seen["page_items"], json!(1));
    assert_eq!(seen["patched_given_name"], json!("Amazing Grace"));
    assert_eq!(seen["deactivated_active"], json!(false));
    assert_eq!(seen["read_back_active"], json!(false));
    // What Concierge holds agrees.
    let r = app
        .gql(
            Some(&company.admin_token),
            "query($id: ID!) { user(id: $id) { firstName lastName status login } }",
            json!({"id": seen["id"]}),
        )
        .await;
    let user = r.ok()["user"].clone();
    assert_eq!(user["firstName"], json!("Amazing Grace"));
    assert_eq!(user["lastName"], json!("Hopper"));
    assert_eq!(user["status"], json!("INACTIVE"));
    assert_eq!(user["login"], seen["created_user_name"]);
}

/// Rotating `CODE_PEPPER`: a SCIM token made under the old pepper works while it is the previous
/// one, is hashed again under the new one on that use, and so outlives the old pepper; a token
/// unused meanwhile does not.
#[tokio::test]
async fn a_scim_token_outlives_a_pepper_rotation_once_used() {
    use concierge_storage_memory::MemoryStore;
    let k1: &[(&str, &str)] = &[("JWT_SECRET", "k1-jwt"), ("CODE_PEPPER", "k1-pepper")];
    let k2_and_k1: &[(&str, &str)] = &[
        ("JWT_SECRET", "k2-jwt"),
        ("CODE_PEPPER", "k2-pepper"),
        ("JWT_SECRET_PREVIOUS", "k1-jwt"),
        ("CODE_PEPPER_PREVIOUS", "k1-pepper"),
    ];
    let k2: &[(&str, &str)] = &[("JWT_SECRET", "k2-jwt"), ("CODE_PEPPER", "k2-pepper")];
    let store = std::sync::Arc::new(MemoryStore::new());
    let old = TestApp::on_storage_with_settings(store.clone(), k1).await;
    let (_, company) = old.company("Scim Rotation").await;
    let (_, used) = scim_token(&old, &company.admin_token, &company.id, json!({})).await;
    let (_, idle) = scim_token(&old, &company.admin_token, &company.id, json!({})).await;
    let during = TestApp::on_storage_with_settings(store.clone(), k2_and_k1).await;
    scim(&during, Some(&used), "GET", "/scim/v2/Users", None)
        .await
        .expect(StatusCode::OK);
    let after = TestApp::on_storage_with_settings(store, k2).await;
    scim(&after, Some(&used), "GET", "/scim/v2/Users", None)
        .await
        .expect(StatusCode::OK);
    scim(&after, Some(&idle), "GET", "/scim/v2/Users", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, None);
}
