//! `baton serve`: a live web view of a festival with human approvals.
//!
//! A second process beside `baton run`: it follows the festival's log on the local ledger (read
//! only, folded into its own engine, see [`follow`]) and serves one page and a JSON API over it:
//! the plan, the tasks as `baton status --format json` gives them, the log since a position, the
//! approvals waiting, and a stream of server-sent events that pushes the state whenever the log
//! grows. The page's assets are compiled into the binary; nothing is fetched at run time.
//!
//! Reads are open to whoever can reach the address (loopback by default). Answers to approvals
//! change the festival, so they need the random token the server prints at start, and they are
//! signed and published exactly as `baton approve` does ([`crate::approval`]), as one of the
//! approvers the server was started for. The server never writes to the ledger otherwise.

mod api;
mod approve;
mod follow;
#[cfg(feature = "hedera")]
pub mod hedera;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::check::Festival;
use crate::engine::EngineError;

use follow::Shared;

/// How the server follows the festival and whom it signs approvals as.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workflow file (where the approvers' key variables are named).
    pub workflow: PathBuf,
    /// `local`, or a Hedera network (`hedera` feature) read through its mirror.
    pub network: String,
    /// The state directory of the local ledger (`baton run --state`).
    pub state: PathBuf,
    /// The approvers answers may be signed as; each is named in the workflow.
    pub signers: Vec<String>,
    /// The environment variable holding the (one) signer's private key; without it keys come
    /// from the state directory's keyring.
    pub key_env: Option<String>,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving HTTP failed: {0}")]
    Http(#[source] std::io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) for `festival`, with a fresh random token.
    pub async fn bind(addr: SocketAddr, festival: Arc<Festival>, options: Options) -> Result<Server, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(festival, options, new_token())?);
        Ok(Server { listener, addr, shared })
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token state-changing requests must carry (`Authorization: Bearer TOKEN`).
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Follows the log and serves until `cancel` fires; open event streams end then too.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), ServeError> {
        let follower = tokio::spawn(follow::follow(self.shared.clone(), cancel.clone()));
        let app = router(self.shared, cancel.clone());
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(cancel.clone().cancelled_owned())
            .await
            .map_err(ServeError::Http);
        cancel.cancel();
        let _ = follower.await;
        served
    }
}

/// Every route of the page and the API.
fn router(shared: Arc<Shared>, cancel: CancellationToken) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(script))
        .route("/style.css", get(style))
        .route("/api/festival", get(api::festival))
        .route("/api/tasks", get(api::tasks))
        .route("/api/events", get(api::events))
        .route("/api/approvals", get(api::approvals))
        .route("/api/tasks/:task/approve", post(approve::approve))
        .route("/api/tasks/:task/reject", post(approve::reject))
        .route("/api/stream", get(stream::stream))
        .fallback(not_found)
        .with_state(AppState { shared, cancel })
}

/// What every handler gets: the followed festival, and the server's cancellation (event streams
/// end when it fires, so that a graceful shutdown does not wait for browsers to leave).
#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    cancel: CancellationToken,
}

/// 32 lowercase hex characters from the operating system's randomness.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// A JSON error body `{"error": "..."}` with its status.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no such page or API route: `{}`", uri.path()),
    )
}

/// An embedded asset with its content type; the page only loads what the binary serves.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", include_str!("assets/index.html"))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("assets/app.js"))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/style.css"))
}
