//! An OpenID provider for the single sign-on tests, on a real port: its own RS256 keys
//! (tests/fixtures/oidc), a discovery document, a JWKS, and authorization and token endpoints
//! with PKCE (S256) and single-use codes. The test decides who signs in next and how the
//! provider misbehaves (a key it never published, another audience or issuer, an expired
//! token, another nonce) and may rotate its keys.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "concierge-test-client";
pub const CLIENT_SECRET: &str = "provider-client-secret";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/oidc");

/// A key of the provider: its private PEM and its public JWK.
#[derive(Clone)]
struct Key {
    kid: String,
    pem: Vec<u8>,
    jwk: Value,
}

fn key(name: &str) -> Key {
    let pem = std::fs::read(format!("{FIXTURES}/{name}.pem")).expect("test key");
    let jwk: Value = serde_json::from_slice(
        &std::fs::read(format!("{FIXTURES}/{name}.jwk.json")).expect("test JWK"),
    )
    .expect("JWK JSON");
    Key {
        kid: name.to_owned(),
        pem,
        jwk,
    }
}

/// Who the provider says signs in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: String,
    pub family_name: String,
}

impl Identity {
    pub fn new(subject: &str, email: &str) -> Self {
        Identity {
            subject: subject.to_owned(),
            email: email.to_owned(),
            email_verified: true,
            given_name: "Ada".to_owned(),
            family_name: "Lovelace".to_owned(),
        }
    }
}

/// How the next ID token departs from a correct one.
#[derive(Debug, Clone, Default)]
pub struct Tamper {
    /// Signed with a key the provider never published (under a published `kid`).
    pub foreign_signature: bool,
    pub audience: Option<String>,
    pub issuer: Option<String>,
    /// Expired an hour ago.
    pub expired: bool,
    /// Another nonce than the one of the authorization request.
    pub nonce: Option<String>,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    identity: Identity,
}

struct Provider {
    issuer: String,
    signing: Key,
    published: Vec<Key>,
    next: Option<Identity>,
    tamper: Tamper,
    codes: HashMap<String, Grant>,
    jwks_fetches: usize,
    counter: u64,
}

/// The running provider.
#[derive(Clone)]
pub struct TestProvider {
    pub issuer: String,
    state: Arc<Mutex<Provider>>,
}

impl TestProvider {
    /// Starts a provider on a free port, signing with `provider-key-1`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider");
        let addr: SocketAddr = listener.local_addr().expect("provider address");
        let issuer = format!("http://{addr}");
        let first = key("provider-key-1");
        let state = Arc::new(Mutex::new(Provider {
            issuer: issuer.clone(),
            signing: first.clone(),
            published: vec![first],
            next: None,
            tamper: Tamper::default(),
            codes: HashMap::new(),
            jwks_fetches: 0,
            counter: 0,
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestProvider { issuer, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Provider) -> T) -> T {
        f(&mut self.state.lock().expect("provider state"))
    }

    /// The person who signs in at the next authorization request.
    pub fn next_sign_in(&self, identity: Identity) {
        self.with(|p| p.next = Some(identity));
    }

    /// How the next ID tokens are spoiled (until changed).
    pub fn tamper(&self, tamper: Tamper) {
        self.with(|p| p.tamper = tamper);
    }

    /// Rotates the keys: signs with `provider-key-2` from now on and publishes only it.
    pub fn rotate_keys(&self) {
        let next = key("provider-key-2");
        self.with(|p| {
            p.signing = next.clone();
            p.published = vec![next];
        });
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.with(|p| p.jwks_fetches)
    }
}

type Shared = State<Arc<Mutex<Provider>>>;

async fn discovery(State(state): Shared) -> Response {
    let issuer = state.lock().expect("provider state").issuer.clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "given_name", "family_name"],
    }))
    .into_response()
}

async fn jwks(State(state): Shared) -> Response {
    let mut provider = state.lock().expect("provider state");
    provider.jwks_fetches += 1;
    let keys: Vec<Value> = provider.published.iter().map(|k| k.jwk.clone()).collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

fn bad_request(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

async fn authorize(State(state): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut provider = state.lock().expect("provider state");
    let param = |name: &str| q.get(name).cloned().unwrap_or_default();
    if param("response_type") != "code"
        || param("client_id") != CLIENT_ID
        || param("code_challenge_method") != "S256"
        || param("code_challenge").is_empty()
        || !param("scope").split(' ').any(|s| s == "openid")
    {
        return bad_request("invalid_request");
    }
    let Some(identity) = provider.next.clone() else {
        return bad_request("nobody signs in");
    };
    provider.counter += 1;
    let code = format!("code-{}", provider.counter);
    let redirect_uri = param("redirect_uri");
    provider.codes.insert(
        code.clone(),
        Grant {
            nonce: param("nonce"),
            challenge: param("code_challenge"),
            redirect_uri: redirect_uri.clone(),
            identity,
        },
    );
    let location = format!(
        "{redirect_uri}?code={code}&state={}",
        urlencode(&param("state"))
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Client authentication by HTTP Basic (what the client sends by default) or in the form.
fn client_authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    match basic {
        Some(pair) => pair == format!("{CLIENT_ID}:{CLIENT_SECRET}"),
        None => {
            form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    }
}

async fn token(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut provider = state.lock().expect("provider state");
    if !client_authenticated(&headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return bad_request("unsupported_grant_type");
    }
    // Single use: a code is gone once presented.
    let Some(grant) = provider.codes.remove(&field("code")) else {
        return bad_request("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.challenge || field("redirect_uri") != grant.redirect_uri {
        return bad_request("invalid_grant");
    }
    let tamper = provider.tamper.clone();
    let now = chrono::Utc::now().timestamp();
    let exp = if tamper.expired {
        now - 3600
    } else {
        now + 300
    };
    let claims = json!({
        "iss": tamper.issuer.clone().unwrap_or_else(|| provider.issuer.clone()),
        "sub": grant.identity.subject,
        "aud": tamper.audience.clone().unwrap_or_else(|| CLIENT_ID.to_owned()),
        "exp": exp,
        "iat": if tamper.expired { now - 3900 } else { now },
        "nonce": tamper.nonce.clone().unwrap_or(grant.nonce),
        "email": grant.identity.email,
        "email_verified": grant.identity.email_verified,
        "given_name": grant.identity.given_name,
        "family_name": grant.identity.family_name,
    });
    let signer = if tamper.foreign_signature {
        Key {
            kid: provider.signing.kid.clone(),
            ..key("stranger-key")
        }
    } else {
        provider.signing.clone()
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    let encoding = EncodingKey::from_rsa_pem(&signer.pem).expect("RSA key");
    let id_token = jsonwebtoken::encode(&header, &claims, &encoding).expect("sign the ID token");
    axum::Json(json!({
        "access_token": format!("access-{}", provider.counter),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
