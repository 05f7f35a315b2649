//! The ceilings: bare axum routes in the same process, served the same way and driven by the same
//! client, that do the least work giving the same answer (a constant, an in-memory map read or
//! insert, one hand-written SQL statement on a deadpool/diesel-async pool).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl as _;
use serde_json::{Value, json};

use crate::pg::PgPool;

/// What the bare routes answer from.
#[derive(Default)]
pub struct Ceiling {
    /// The page of users, as GraphQL answered it at setup.
    pub page: Vec<Value>,
    /// Users by id, as `user(id)` answers.
    pub users: HashMap<String, Value>,
    pub bookings: Mutex<HashMap<u64, Value>>,
    pub next_booking: AtomicU64,
    pub pg: Option<PgPool>,
    /// `availableRooms` as GraphQL answered it at setup (the memory ceiling's answer).
    pub available: Vec<Value>,
}

pub fn router(ceiling: Arc<Ceiling>) -> Router {
    Router::new()
        .route("/typename", post(typename))
        .route("/memory/users-page", post(memory_page))
        .route("/memory/user", post(memory_user))
        .route("/memory/booking", post(memory_booking))
        .route("/pg/users-page", post(pg_page))
        .route("/pg/user", post(pg_user))
        .route("/pg/booking", post(pg_booking))
        .route("/memory/available-rooms", post(memory_available_rooms))
        .route("/pg/available-rooms", post(pg_available_rooms))
        .with_state(ceiling)
}

fn fail(error: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

/// Parses the JSON body like the GraphQL route does, answers a constant.
async fn typename(Json(_request): Json<Value>) -> Json<Value> {
    Json(json!({"data": {"__typename": "Query"}}))
}

async fn memory_page(State(c): State<Arc<Ceiling>>, Json(_request): Json<Value>) -> Response {
    let edges: Vec<Value> = c.page.iter().map(|node| json!({"node": node})).collect();
    Json(json!({"data": {"users": {"edges": edges}}})).into_response()
}

async fn memory_user(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    match request["id"].as_str().and_then(|id| c.users.get(id)) {
        Some(user) => Json(json!({"data": {"user": user}})).into_response(),
        None => (StatusCode::NOT_FOUND, "no such user").into_response(),
    }
}

async fn memory_booking(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    let id = c.next_booking.fetch_add(1, Ordering::Relaxed);
    c.bookings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(id, request);
    Json(json!({"data": {"createBooking": {"booking": {"id": id}}}})).into_response()
}

#[derive(QueryableByName)]
struct PageRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    profile_id: String,
    #[diesel(sql_type = Text)]
    profile_name: String,
    #[diesel(sql_type = Text)]
    organization_id: String,
    #[diesel(sql_type = Text)]
    organization_name: String,
    #[diesel(sql_type = Text)]
    sites: String,
}

/// The page of users with profile, sites and organization in one statement.
pub const PAGE_SQL: &str = "SELECT u.id::text AS id, u.first_name, u.last_name, u.email, u.username, u.status, \
    p.id::text AS profile_id, p.name AS profile_name, o.id::text AS organization_id, o.name AS organization_name, \
    COALESCE((SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id) \
              FROM user_sites us JOIN sites s ON s.id = us.site_id WHERE us.user_id = u.id), '[]')::text AS sites \
    FROM users u JOIN profiles p ON p.id = u.profile_id JOIN organizations o ON o.id = u.organization_id \
    WHERE u.organization_id = $1::uuid ORDER BY u.id LIMIT 50";

async fn pg_page(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    let Some(pool) = &c.pg else {
        return fail("no pool");
    };
    let org = request["org"].as_str().unwrap_or_default().to_owned();
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return fail(e),
    };
    let rows = match diesel::sql_query(PAGE_SQL)
        .bind::<Text, _>(org)
        .load::<PageRow>(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    drop(conn);
    let edges: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let sites: Value = serde_json::from_str(&r.sites).unwrap_or(Value::Null);
            json!({"node": {"id": r.id, "firstName": r.first_name, "lastName": r.last_name,
                "email": r.email, "username": r.username, "status": r.status,
                "profile": {"id": r.profile_id, "name": r.profile_name}, "sites": sites,
                "organization": {"id": r.organization_id, "name": r.organization_name}}})
        })
        .collect();
    Json(json!({"data": {"users": {"edges": edges}}})).into_response()
}

#[derive(QueryableByName)]
struct UserRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
}

const USER_SQL: &str = "SELECT id::text AS id, first_name, last_name, email, username, status \
    FROM users WHERE id = $1::uuid";

async fn pg_user(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    let Some(pool) = &c.pg else {
        return fail("no pool");
    };
    let id = request["id"].as_str().unwrap_or_default().to_owned();
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return fail(e),
    };
    let row = diesel::sql_query(USER_SQL)
        .bind::<Text, _>(id)
        .get_result::<UserRow>(&mut *conn)
        .await;
    drop(conn);
    match row {
        Ok(r) => Json(json!({"data": {"user": {"id": r.id, "firstName": r.first_name,
            "lastName": r.last_name, "email": r.email, "username": r.username, "status": r.status}}}))
        .into_response(),
        Err(e) => fail(e),
    }
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = Text)]
    id: String,
}

/// One booking row, the table's exclusion constraint and deferred foreign keys checked at commit.
const BOOKING_SQL: &str = "INSERT INTO bookings (id, room_id, site_id, organization_id, user_id, created_by, \
    title, start_at, end_at, source, status, created_at) \
    SELECT gen_random_uuid(), r.id, r.site_id, r.organization_id, $2::uuid, $2::uuid, $3, $4, $5, 'APP', 'CONFIRMED', now() \
    FROM rooms r WHERE r.id = $1::uuid RETURNING id::text AS id";

async fn pg_booking(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    let Some(pool) = &c.pg else {
        return fail("no pool");
    };
    let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
    let instant = |key: &str| {
        request[key]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(start), Some(end)) = (instant("start"), instant("end")) else {
        return (StatusCode::BAD_REQUEST, "start and end").into_response();
    };
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return fail(e),
    };
    let inserted = diesel::sql_query(BOOKING_SQL)
        .bind::<Text, _>(text("room"))
        .bind::<Text, _>(text("user"))
        .bind::<Text, _>(text("title"))
        .bind::<Timestamptz, _>(start)
        .bind::<Timestamptz, _>(end)
        .get_result::<Inserted>(&mut *conn)
        .await;
    drop(conn);
    match inserted {
        Ok(row) => {
            Json(json!({"data": {"createBooking": {"booking": {"id": row.id}}}})).into_response()
        }
        Err(e) => fail(e),
    }
}

async fn memory_available_rooms(
    State(c): State<Arc<Ceiling>>,
    Json(_request): Json<Value>,
) -> Response {
    Json(json!({"data": {"availableRooms": c.available}})).into_response()
}

#[derive(QueryableByName)]
struct AvailableRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
    capacity: Option<i32>,
}

/// The bookable rooms of a site with enough seats and no confirmed booking overlapping the
/// interval (the exclusion constraint's GiST index), smallest first: one statement. The rooms'
/// policy (the same for all of them here) is left to the caller, as the application checks it
/// in the process.
pub const AVAILABLE_SQL: &str = "SELECT r.id::text AS id, r.name, r.capacity FROM rooms r \
    WHERE r.site_id = $1::uuid AND r.bookable AND r.capacity >= $4 \
    AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.room_id = r.id AND b.status = 'CONFIRMED' \
        AND tstzrange(b.start_at, b.end_at, '[)') && tstzrange($2, $3, '[)')) \
    ORDER BY r.capacity, r.name, r.id";

async fn pg_available_rooms(State(c): State<Arc<Ceiling>>, Json(request): Json<Value>) -> Response {
    let Some(pool) = &c.pg else {
        return fail("no pool");
    };
    let instant = |key: &str| {
        request[key]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(start), Some(end)) = (instant("start"), instant("end")) else {
        return (StatusCode::BAD_REQUEST, "start and end").into_response();
    };
    let site = request["site"].as_str().unwrap_or_default().to_owned();
    let min = request["min"].as_i64().unwrap_or(0) as i32;
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return fail(e),
    };
    let rows = diesel::sql_query(AVAILABLE_SQL)
        .bind::<Text, _>(site)
        .bind::<Timestamptz, _>(start)
        .bind::<Timestamptz, _>(end)
        .bind::<diesel::sql_types::Integer, _>(min)
        .load::<AvailableRow>(&mut *conn)
        .await;
    drop(conn);
    match rows {
        Ok(rows) => {
            let rooms: Vec<Value> = rows
                .into_iter()
                .map(|r| json!({"id": r.id, "name": r.name, "capacity": r.capacity}))
                .collect();
            Json(json!({"data": {"availableRooms": rooms}})).into_response()
        }
        Err(e) => fail(e),
    }
}
