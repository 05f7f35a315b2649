//! An HTTP/1.1 client for the tests that talk to a real server process, on hyper's own client
//! connection (no hand-written parsing). One connection per exchange, as a browser tab that
//! closes does: a server that stops accepting is then seen at once as a refused connection.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::Gql;

/// How long one exchange may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A response as a client sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of the header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One exchange with the server at `addr`: `body` is sent as JSON, `token` as a bearer token.
/// An error when no response came (refused, cut, or past the timeout).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(addr, method, path, token, body))
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("the request timed out")))
}

/// A GraphQL operation over `POST /graphql`. An error when no response came, or when the
/// response was not GraphQL's JSON.
pub async fn gql(
    addr: SocketAddr,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> std::io::Result<Gql> {
    let body = json!({"query": query, "variables": variables});
    let response = request(addr, "POST", "/graphql", token, Some(&body)).await?;
    let value: Value = serde_json::from_slice(&response.body).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "POST /graphql answered {} with no JSON ({e}): {}",
                response.status,
                response.text()
            ),
        )
    })?;
    Ok(Gql::from_json(&value))
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("accept", "application/json")
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = builder
        .body(Full::new(Bytes::from(payload)))
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}
