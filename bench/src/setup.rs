//! The application under measurement (production Argon2 cost, real router served by axum on
//! 127.0.0.1:0) and the data it is measured on, created through GraphQL with `TestApp`'s helpers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use concierge_api::app::AppState;
use concierge_api::config::Config;
use concierge_domain::storage::Storage;
use concierge_domain::throttle::AttemptCounter;
use concierge_storage_memory::MemoryStore;
use concierge_tests::{CHOSEN_PASSWORD, OPERATOR_EMAIL, OPERATOR_PASSWORD, Org, TestApp};
use futures::StreamExt as _;
use hyper::Uri;
use serde_json::{Value, json};

/// Users listed on the measured page besides the company's administrator (oldest first: the
/// administrator and these 49 make the page of 50).
pub const LISTED_USERS: usize = 49;
/// Rooms the booking clients spread over.
pub const BOOKING_ROOMS: usize = 8;

/// The production configuration with fixed keys (so a second app on the same database accepts
/// the same tokens): Argon2 at its default, OWASP.
pub fn config() -> Config {
    let vars = [
        ("JWT_SECRET", "bench-jwt-secret"),
        ("CODE_PEPPER", "bench-pepper"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into_iter()
    .collect();
    Config::from_vars(&vars).expect("the benchmark's configuration is valid")
}

/// An application state over `store` and the sign-in throttling counters `attempts`, as
/// `serve` builds it.
pub fn state(
    store: Arc<dyn Storage>,
    attempts: Arc<dyn AttemptCounter>,
) -> Result<AppState, String> {
    AppState::new(store, attempts, &config()).map_err(|e| format!("app state: {e:?}"))
}

/// A server on 127.0.0.1:0, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(router: Router) -> Result<Server, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                eprintln!("server on {addr}: {error}");
            }
        });
        Ok(Server { addr, task })
    }

    pub fn uri(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.addr)
            .parse()
            .expect("a loopback URI parses")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A person who books rooms: signed in, with a password of their choosing.
#[derive(Debug, Clone)]
pub struct Booker {
    pub id: String,
    pub login: String,
    pub token: String,
}

/// One backend's application and data.
pub struct Fixture {
    pub app: TestApp,
    pub company: Org,
    pub rooms: Vec<String>,
    pub fanout_room: String,
    /// Every user of the company by id, as `user(id)` answers (`USER_FIELDS`).
    pub users: HashMap<String, Value>,
    /// The ids of the 49 listed users.
    pub listed: Vec<String>,
    pub bookers: Vec<Booker>,
}

pub const USER_FIELDS: &str = "id firstName lastName email username status";
pub const PAGE_QUERY: &str = "query($org: ID!) { users(filter: {organizationId: $org}, first: 50) { edges { node { \
    id firstName lastName email username status profile { id name } sites { id name } organization { id name } } } } }";

impl Fixture {
    /// Creates the cast on `store`: a partner and a company, two sites, rooms, a page of users
    /// with a profile and both sites, and `bookers` signed-in users who may book for themselves.
    pub async fn create(
        store: Arc<dyn Storage>,
        attempts: Arc<dyn AttemptCounter>,
        memory: Option<MemoryStore>,
        bookers: usize,
    ) -> Result<Fixture, String> {
        let state = state(store, attempts)?;
        concierge_api::serve::bootstrap(&state, OPERATOR_EMAIL, OPERATOR_PASSWORD).await?;
        let mut app = TestApp {
            state,
            memory,
            operator_token: String::new(),
        };
        app.operator_token = app.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
        let (_partner, company) = app.company("Bench Corp").await;
        let token = company.admin_token.clone();
        let mut sites = Vec::new();
        for name in ["Paris HQ", "Lyon"] {
            sites.push(app.create_site(&token, &company.id, name).await);
        }
        let mut rooms = Vec::new();
        for i in 0..BOOKING_ROOMS {
            rooms.push(
                app.create_room(&token, &sites[0], &format!("Room {i}"))
                    .await,
            );
        }
        let fanout_room = app.create_room(&token, &sites[0], "Fan-out room").await;
        let profile = app
            .create_profile(
                &token,
                &company.id,
                "Staff",
                json!({"bookings": "SELF", "sites": "READ", "rooms": "READ"}),
            )
            .await;
        let input = |first: &str, last: &str, username: String| {
            json!({"firstName": first, "lastName": last, "username": username, "profileId": profile,
                "siteIds": sites.clone(), "defaultSiteId": sites[0]})
        };
        // Argon2 (OWASP) per created user: a few at a time keep both cores busy.
        let listed_inputs: Vec<Value> = (0..LISTED_USERS)
            .map(|i| {
                input(
                    "Listed",
                    &format!("Person {i:02}"),
                    format!("listed-{i:02}"),
                )
            })
            .collect();
        let created: Vec<Value> = futures::stream::iter(listed_inputs)
            .map(|i| app.create_user(&token, &company.id, i))
            .buffered(4)
            .collect()
            .await;
        let listed = created
            .iter()
            .filter_map(|c| c["user"]["id"].as_str().map(str::to_owned))
            .collect();
        let booker_inputs: Vec<(String, Value)> = (0..bookers)
            .map(|i| {
                let login = format!("booker-{i:02}");
                (login.clone(), input("Booker", &format!("{i:02}"), login))
            })
            .collect();
        let bookers: Vec<Booker> = futures::stream::iter(booker_inputs)
            .map(|(login, i)| {
                let (app, token, org) = (&app, &token, &company.id);
                async move {
                    let (id, token) = app.user_with_token(token, org, i).await;
                    Booker { id, login, token }
                }
            })
            .buffered(4)
            .collect()
            .await;
        let all = app
            .gql(
                Some(&token),
                &format!("query($org: ID!) {{ users(filter: {{organizationId: $org}}, first: 200) {{ edges {{ node {{ {USER_FIELDS} }} }} }} }}"),
                json!({"org": company.id}),
            )
            .await;
        let users = all.ok()["users"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .filter_map(|e| {
                        let node = e["node"].clone();
                        Some((node["id"].as_str()?.to_owned(), node))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Fixture {
            app,
            company,
            rooms,
            fanout_room,
            users,
            listed,
            bookers,
        })
    }

    pub fn page_variables(&self) -> Value {
        json!({"org": self.company.id})
    }

    /// Logins of the bookers (their password is `CHOSEN_PASSWORD`).
    pub fn password() -> &'static str {
        CHOSEN_PASSWORD
    }
}
