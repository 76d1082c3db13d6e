//! `csamctl registry serve`: the HTTP API of `docs/registry-api.md` over a registry
//! file, on axum.
//!
//! - The router is built from [`openapi::Operation`]'s table, so every documented
//!   operation is served at its documented method and path, and nothing else is.
//! - Persons authenticate with `Authorization: Bearer <token>` (tokens the store keeps
//!   hashed); the operator surface (`/v1/admin/...`) takes the operator token, which is
//!   read from `--admin-token-file` or, when that file does not exist yet, created in it
//!   (mode 0600). It defaults to the database path plus `.admin-token`: whoever may read
//!   the files beside the database is the operator, as with the operator commands that
//!   open the file directly.
//! - Errors are problem documents (`application/problem+json`) carrying the stable
//!   code; 503 and 429 carry `Retry-After`, 401 `WWW-Authenticate`.
//! - Testing knobs, on the person-facing operations only (the operator surface and the
//!   document stay reliable so that tests can steer): `latency` delays each request;
//!   `fault_rate` answers that share of requests with a fault, taking turns between a
//!   503 with `Retry-After`, a connection dropped before the request is carried out,
//!   and one dropped after it was carried out (what idempotency keys exist for).
//!   `fault_seed` makes the decisions repeatable: the n-th person-facing request is
//!   faulted (and how) as a pure function of the seed and n, so a run with the same
//!   seed and the same order of requests meets the same faults. Without a seed one is
//!   drawn at start.
//! - Connections are accepted here rather than by `axum::serve`, because dropping one
//!   on purpose needs the connection's own task; shutdown (SIGTERM or Ctrl-C) stops
//!   accepting, lets requests in flight finish and closes idle connections.
//!
//! May use the registry's traits and types, axum, hyper, tower and tokio.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use super::openapi::{self, Auth, IDEMPOTENCY_KEY, Operation};
use super::sqlite::token_hash;
use super::{
    AccessQuery, AccountPassword, BatchRequest, BatchResponse, BatchResult, ClockAdvance,
    ClockKind, ClockReading, IdempotencyKey, IssuedToken, KnownHeadRadiologist, LeaseId,
    LeaseRequest, Limits, OpenOptions, PageRequest, Problem, Reference, Registry, RegistryError,
    RegistryOperator, SessionId, SqliteRegistry, TokenRequest, WithPassword,
};
use crate::model::{Kbo, KnownAccounts};

/// How long requests in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What `registry serve` was asked for.
#[derive(Clone, Debug)]
pub(crate) struct ServeOptions {
    /// The registry file (created if missing).
    pub db: PathBuf,
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Added to each person-facing request.
    pub latency: Duration,
    /// Share of person-facing requests answered with a fault (0 to 1).
    pub fault_rate: f64,
    /// Seed of the fault decisions (`None`: a random one).
    pub fault_seed: Option<u64>,
    /// Time from log-out to processing.
    pub processing_delay_ms: u64,
    /// Sessions one person may have open at once.
    pub sessions_per_person: u32,
    /// Run on a virtual clock that only the operator surface moves.
    pub virtual_clock: bool,
    /// Where the operator token is read or created; default `<db>.admin-token`.
    pub admin_token_file: Option<PathBuf>,
}

impl ServeOptions {
    /// The operator token file in effect.
    pub(crate) fn admin_token_path(&self) -> PathBuf {
        self.admin_token_file.clone().unwrap_or_else(|| {
            let mut name = OsString::from(self.db.as_os_str());
            name.push(".admin-token");
            PathBuf::from(name)
        })
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// `--fault-rate` outside 0..=1.
    #[error("the fault rate must be between 0 and 1, not {0}")]
    FaultRate(f64),
    /// The registry file is missing or empty: `registry init` makes one.
    #[error(transparent)]
    File(#[from] super::embedded::RegistryFileError),
    /// The registry file could not be opened.
    #[error("cannot open the registry {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// The operator token file could not be read or created.
    #[error("cannot read or create the operator token file {path}")]
    AdminToken {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The operator token file exists but is empty.
    #[error("the operator token file {0} is empty")]
    EmptyAdminToken(PathBuf),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Closes one connection on purpose (the dropped-connection fault).
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

struct AppState {
    registry: SqliteRegistry,
    operator_hash: String,
    persons: RwLock<HashMap<String, Arc<dyn Registry>>>,
    latency: Duration,
    fault_rate: f64,
    faults: Faults,
    document: Bytes,
}

/// The fault decisions: whether the n-th person-facing request is faulted is a pure
/// function of the seed and n (splitmix64), and the faults take turns between the
/// three kinds, so a seed replays the same sequence.
struct Faults {
    seed: u64,
    requests: AtomicU64,
    faults: AtomicU64,
}

impl Faults {
    fn new(seed: Option<u64>) -> Self {
        Faults {
            seed: seed.unwrap_or_else(rand::random),
            requests: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        }
    }

    /// The next request's fault, if it gets one: 0 a 503, 1 a connection dropped
    /// before the request is carried out, 2 one dropped after.
    fn next(&self, rate: f64) -> Option<u64> {
        if rate <= 0.0 {
            return None;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let x = splitmix64(self.seed ^ splitmix64(n));
        // The top 53 bits as a uniform number in [0, 1).
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        (u < rate).then(|| self.faults.fetch_add(1, Ordering::Relaxed) % 3)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl AppState {
    /// The registry as the bearer of `token` sees it.
    async fn person(&self, token: &str) -> Result<Arc<dyn Registry>, ApiError> {
        let hash = token_hash(token);
        if let Some(found) = self.persons.read().ok().and_then(|m| m.get(&hash).cloned()) {
            return Ok(found);
        }
        let person = self
            .registry
            .token_person(token)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("unknown bearer token"))?;
        let registry = self.registry.as_person(person);
        // Tokens are never revoked, so a person once found stays valid.
        if let Ok(mut m) = self.persons.write() {
            m.insert(hash, Arc::clone(&registry));
        }
        Ok(registry)
    }
}

/// A server bound to its address, not yet serving.
pub(crate) struct BoundServer {
    listener: TcpListener,
    state: Arc<AppState>,
    admin_token_file: PathBuf,
}

impl std::fmt::Debug for BoundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundServer")
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

/// Reads the operator token, or creates it (readable by the owner only).
fn operator_token(path: &Path) -> Result<String, ServeError> {
    let io = |source| ServeError::AdminToken {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim();
            if token.is_empty() {
                return Err(ServeError::EmptyAdminToken(path.to_path_buf()));
            }
            Ok(token.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write as _;
            let token = format!("csam_op_{}", hex::encode(rand::random::<[u8; 32]>()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io)?;
            writeln!(file, "{token}").map_err(io)?;
            Ok(token)
        }
        Err(e) => Err(io(e)),
    }
}

/// Opens the registry, reads or creates the operator token and binds the address.
pub(crate) async fn bind(options: ServeOptions) -> Result<BoundServer, ServeError> {
    if !(0.0..=1.0).contains(&options.fault_rate) {
        return Err(ServeError::FaultRate(options.fault_rate));
    }
    super::embedded::existing_registry_file(&options.db)?;
    let open = OpenOptions {
        clock: if options.virtual_clock {
            ClockKind::Virtual
        } else {
            ClockKind::Wall
        },
        config: Limits {
            processing_delay_ms: options.processing_delay_ms,
            sessions_per_person: options.sessions_per_person,
            ..Limits::default()
        },
    };
    let db = options.db.clone();
    let registry = tokio::task::spawn_blocking(move || SqliteRegistry::open(&db, open))
        .await
        .map_err(|e| RegistryError::Internal {
            reason: format!("opening task failed: {e}"),
        })
        .and_then(|r| r)
        .map_err(|source| ServeError::Open {
            path: options.db.clone(),
            source,
        })?;
    let admin_token_file = options.admin_token_path();
    let operator_hash = token_hash(&operator_token(&admin_token_file)?);
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let state = Arc::new(AppState {
        registry,
        operator_hash,
        persons: RwLock::new(HashMap::new()),
        latency: options.latency,
        fault_rate: options.fault_rate,
        faults: Faults::new(options.fault_seed),
        document: Bytes::from(openapi::document_json()),
    });
    Ok(BoundServer {
        listener,
        state,
        admin_token_file,
    })
}

impl BoundServer {
    /// The address actually bound (with the port chosen for `:0`).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The operator token file in effect.
    pub(crate) fn admin_token_file(&self) -> &Path {
        &self.admin_token_file
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub(crate) async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let router = router(Arc::clone(&self.state));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: the listener itself is fine,
                    // but give connections a moment to close before trying again.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let kill = ConnectionKill(Arc::new(Notify::new()));
            let request_kill = kill.clone();
            let service = router
                .clone()
                .map_request(move |req: Request<hyper::body::Incoming>| {
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(request_kill.clone());
                    req
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                tokio::select! {
                    _ = connection => {}
                    // Dropping the connection closes the socket without an answer.
                    () = kill.0.notified() => {}
                }
            });
        }
        drop(self.listener);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

// ----- errors and extractors ----------------------------------------------------------

/// An error on its way out as a problem document.
#[derive(Debug)]
struct ApiError {
    error: RegistryError,
    status: u16,
}

impl ApiError {
    fn unauthenticated(reason: &str) -> Self {
        ApiError {
            error: RegistryError::NotAuthorised {
                reason: reason.into(),
            },
            status: 401,
        }
    }

    fn invalid(reason: impl Into<String>) -> Self {
        RegistryError::InvalidRequest {
            reason: reason.into(),
        }
        .into()
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        ApiError {
            status: openapi::status_of(&error),
            error,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry_after = self.error.retry_after().map(|d| d.as_secs().max(1));
        let problem = Problem::new(self.error, status);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Problem::MEDIA_TYPE),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, seconds.into());
        }
        if status == 401 {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The registry as the bearer of the request's person token sees it.
struct Caller(Arc<dyn Registry>);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
        Ok(Caller(state.person(token).await?))
    }
}

/// Proof that the request carries the operator token.
struct Operator;

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::unauthenticated("the operator token is required"))?;
        // Comparing hashes: the time taken tells nothing about the token itself.
        if token_hash(token) != state.operator_hash {
            return Err(RegistryError::NotAuthorised {
                reason: "this is the operator surface; a person's token is not enough".into(),
            }
            .into());
        }
        Ok(Operator)
    }
}

/// A JSON body whose rejection is a problem document.
struct ApiJson<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<serde_json::Value>::from_request(req, state).await {
            // Every request body of the contract is an object; serde would also take a
            // struct written as an array of its fields, which the contract does not.
            Ok(Json(value)) if !value.is_object() => Err(ApiError::invalid(
                "the JSON body must be an object".to_string(),
            )),
            Ok(Json(value)) if let Some(tag) = numeric_tag(&value) => Err(ApiError::invalid(
                format!("`{tag}` names a kind of change or object: a string, not a number"),
            )),
            Ok(Json(mut value)) => {
                integral_numbers(&mut value);
                serde_path_to_error::deserialize(value)
                    .map(ApiJson)
                    .map_err(|e| ApiError::invalid(format!("the JSON body: {e}")))
            }
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError {
                    error: RegistryError::InvalidRequest {
                        reason: "the request body is larger than this operation takes (see the OpenAPI document)".into(),
                    },
                    status: 413,
                })
            }
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

/// Writes numbers with a zero fraction (`7064.0`) as integers: JSON Schema, and so the
/// contract, counts them as integers, while serde would refuse them for an integer field.
fn integral_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Below 2^53 the conversion is exact.
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// The members that name the variant of a request's tagged objects (a write's `change`,
/// an administrator's `kind`, a user level's `level`, a target's `target`).
const TAGS: [&str; 4] = ["change", "kind", "level", "target"];

/// A tag written as a number: serde would take it as the variant's index, which the
/// contract does not (its tags are strings).
fn numeric_tag(value: &serde_json::Value) -> Option<&'static str> {
    use serde_json::Value;
    match value {
        Value::Object(map) => TAGS
            .into_iter()
            .find(|tag| map.get(*tag).is_some_and(Value::is_number))
            .or_else(|| map.values().find_map(numeric_tag)),
        Value::Array(items) => items.iter().find_map(numeric_tag),
        _ => None,
    }
}

/// Path parameters whose rejection is a problem document.
struct ApiPath<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

/// A query string whose rejection is a problem document.
struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ----- the knobs ----------------------------------------------------------------------

async fn knobs(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    if let Some(turn) = state.faults.next(state.fault_rate) {
        let kill = req.extensions().get::<ConnectionKill>().cloned();
        let unavailable = || {
            ApiError::from(RegistryError::Unavailable {
                reason: "injected fault (--fault-rate)".into(),
            })
            .into_response()
        };
        match (turn, kill) {
            (1, Some(kill)) => {
                kill.0.notify_one();
                return std::future::pending().await;
            }
            (2, Some(kill)) => {
                let _ = next.run(req).await;
                kill.0.notify_one();
                return std::future::pending().await;
            }
            _ => return unavailable(),
        }
    }
    next.run(req).await
}

// ----- handlers -----------------------------------------------------------------------

async fn openapi_document(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.document.clone(),
    )
        .into_response()
}

async fn health() -> Json<super::Health> {
    Json(super::Health {
        status: "ok".into(),
    })
}

async fn limits(Caller(r): Caller) -> ApiResult<Json<super::Limits>> {
    Ok(Json(r.limits().await?))
}

async fn whoami(Caller(r): Caller) -> ApiResult<Json<super::Me>> {
    Ok(Json(r.whoami().await?))
}

async fn open_session(
    Caller(r): Caller,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<super::SessionInfo>)> {
    // The key is optional for log-ins (clients without one get a session per request).
    let session = match headers.get(IDEMPOTENCY_KEY) {
        Some(key) => {
            let key = key
                .to_str()
                .map_err(|_| ApiError::invalid("the Idempotency-Key is printable ASCII"))?;
            r.open_session_keyed(&IdempotencyKey::new(key)?).await?
        }
        None => r.open_session().await?,
    };
    Ok((StatusCode::CREATED, Json(session)))
}

async fn list_sessions(Caller(r): Caller) -> ApiResult<Json<Vec<super::SessionInfo>>> {
    Ok(Json(r.list_sessions().await?))
}

async fn close_session(
    Caller(r): Caller,
    ApiPath(session): ApiPath<SessionId>,
) -> ApiResult<Json<super::CloseReceipt>> {
    Ok(Json(r.close_session(&session).await?))
}

/// The representation's entity tag: a digest of exactly the bytes sent.
fn entity_tag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

async fn snapshot(
    Caller(r): Caller,
    ApiPath((session, kbo)): ApiPath<(SessionId, Kbo)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let live = r.snapshot(&session, &kbo).await?;
    // A tree of 100,000 users is tens of megabytes: encode it off the async workers.
    let (body, etag) = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&live).map(|body| {
            let etag = entity_tag(&body);
            (body, etag)
        })
    })
    .await
    .map_err(|e| RegistryError::Internal {
        reason: format!("encoding task failed: {e}"),
    })?
    .map_err(|e| RegistryError::Internal {
        reason: format!("tree to JSON: {e}"),
    })?;
    let etag_value = HeaderValue::from_str(&etag).map_err(|e| RegistryError::Internal {
        reason: e.to_string(),
    })?;
    if matches_etag(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
        ],
        body,
    )
        .into_response())
}

async fn list_users(
    Caller(r): Caller,
    ApiPath((session, kbo)): ApiPath<(SessionId, Kbo)>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<super::UserPage>> {
    Ok(Json(r.list_users(&session, &kbo, &page).await?))
}

async fn write(
    Caller(r): Caller,
    ApiPath(session): ApiPath<SessionId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WithPassword<AccountPassword>>,
) -> ApiResult<Json<super::WriteReceipt>> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| ApiError::invalid("writes need an Idempotency-Key header"))?
        .to_str()
        .map_err(|_| ApiError::invalid("the Idempotency-Key is printable ASCII"))?;
    let key = IdempotencyKey::new(key)?;
    Ok(Json(
        r.write(&session, &key, &body.write, body.password.as_ref())
            .await?,
    ))
}

/// Always 200 with one result per write: a refused write is a result, not the answer's
/// status (see `Operation::WriteBatch`).
async fn write_batch(
    Caller(r): Caller,
    ApiPath(session): ApiPath<SessionId>,
    ApiJson(batch): ApiJson<BatchRequest>,
) -> ApiResult<Json<BatchResponse>> {
    BatchRequest::check_len(batch.writes.len())?;
    let results = r
        .write_batch(&session, &batch.writes)
        .await?
        .into_iter()
        .map(|answer| match answer {
            Ok(receipt) => BatchResult::Acknowledged {
                receipt: Box::new(receipt),
            },
            Err(error) => BatchResult::Refused {
                problem: Problem::new(error.clone(), openapi::status_of(&error)),
            },
        })
        .collect();
    Ok(Json(BatchResponse { results }))
}

async fn tickets(
    Caller(r): Caller,
    ApiPath(kbo): ApiPath<Kbo>,
) -> ApiResult<Json<Vec<super::Ticket>>> {
    Ok(Json(r.tickets(&kbo).await?))
}

async fn pending_notices(
    Caller(r): Caller,
    ApiPath(kbo): ApiPath<Kbo>,
) -> ApiResult<Json<Vec<super::PendingNotice>>> {
    Ok(Json(r.pending_notices(&kbo).await?))
}

async fn look_up_accounts(
    Caller(r): Caller,
    ApiJson(query): ApiJson<super::AccountQuery>,
) -> ApiResult<Json<KnownAccounts>> {
    Ok(Json(r.look_up_accounts(&query).await?))
}

async fn evaluate_access(
    Caller(r): Caller,
    ApiJson(query): ApiJson<AccessQuery>,
) -> ApiResult<Json<super::AccessReport>> {
    Ok(Json(
        r.evaluate_access(&query.person, query.site.as_ref())
            .await?,
    ))
}

async fn acquire_lease(
    Caller(r): Caller,
    ApiPath(kbo): ApiPath<Kbo>,
    ApiJson(request): ApiJson<LeaseRequest>,
) -> ApiResult<Json<super::Lease>> {
    Ok(Json(r.acquire_lease(&kbo, &request).await?))
}

async fn release_lease(
    Caller(r): Caller,
    ApiPath(lease): ApiPath<LeaseId>,
) -> ApiResult<StatusCode> {
    r.release_lease(&lease).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn issue_token(
    _: Operator,
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    let token = state.registry.issue_token(&request.person).await?;
    Ok((StatusCode::CREATED, Json(IssuedToken { token })))
}

async fn all_tickets(
    _: Operator,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<Vec<super::Ticket>>> {
    Ok(Json(state.registry.all_tickets().await?))
}

async fn validate_ticket(
    _: Operator,
    State(state): State<Arc<AppState>>,
    ApiPath(ticket): ApiPath<String>,
) -> ApiResult<Json<super::Ticket>> {
    Ok(Json(state.registry.validate_ticket(&ticket).await?))
}

async fn notify_head_radiologist(
    _: Operator,
    State(state): State<Arc<AppState>>,
    ApiJson(notice): ApiJson<KnownHeadRadiologist>,
) -> ApiResult<StatusCode> {
    state
        .registry
        .notify_head_radiologist(&notice.site, &notice.person)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn advance_clock(
    _: Operator,
    State(state): State<Arc<AppState>>,
    ApiJson(advance): ApiJson<ClockAdvance>,
) -> ApiResult<Json<ClockReading>> {
    let now_ms = state.registry.advance_clock(advance.by_ms).await?;
    Ok(Json(ClockReading { now_ms }))
}

async fn stats(
    _: Operator,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<super::RegistryStats>> {
    Ok(Json(state.registry.stats().await?))
}

async fn load_reference(
    _: Operator,
    State(state): State<Arc<AppState>>,
    ApiJson(reference): ApiJson<Reference>,
) -> ApiResult<StatusCode> {
    state.registry.load_reference(&reference).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn no_such_route() -> ApiError {
    RegistryError::NotFound {
        what: "this path (see /openapi.json)".into(),
    }
    .into()
}

async fn no_such_method() -> ApiError {
    ApiError {
        error: RegistryError::InvalidRequest {
            reason: "this method is not offered on this path (see /openapi.json)".into(),
        },
        status: 405,
    }
}

// ----- the router ---------------------------------------------------------------------

fn filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "DELETE" => MethodFilter::DELETE,
        "PUT" => MethodFilter::PUT,
        _ => MethodFilter::GET,
    }
}

/// The handler of one operation, on the operation's method.
fn route(op: Operation) -> MethodRouter<Arc<AppState>> {
    let f = filter(op.method());
    let router = match op {
        Operation::OpenApi => on(f, openapi_document),
        Operation::Health => on(f, health),
        Operation::Limits => on(f, limits),
        Operation::Me => on(f, whoami),
        Operation::OpenSession => on(f, open_session),
        Operation::ListSessions => on(f, list_sessions),
        Operation::CloseSession => on(f, close_session),
        Operation::Snapshot => on(f, snapshot),
        Operation::ListUsers => on(f, list_users),
        Operation::Write => on(f, write),
        Operation::WriteBatch => on(f, write_batch),
        Operation::Tickets => on(f, tickets),
        Operation::PendingNotices => on(f, pending_notices),
        Operation::LookUpAccounts => on(f, look_up_accounts),
        Operation::EvaluateAccess => on(f, evaluate_access),
        Operation::AcquireLease => on(f, acquire_lease),
        Operation::ReleaseLease => on(f, release_lease),
        Operation::IssueToken => on(f, issue_token),
        Operation::AllTickets => on(f, all_tickets),
        Operation::ValidateTicket => on(f, validate_ticket),
        Operation::NotifyHeadRadiologist => on(f, notify_head_radiologist),
        Operation::AdvanceClock => on(f, advance_clock),
        Operation::Stats => on(f, stats),
        Operation::LoadReference => on(f, load_reference),
    };
    router.layer(DefaultBodyLimit::max(op.body_limit()))
}

fn router(state: Arc<AppState>) -> Router {
    let mut routes: BTreeMap<&'static str, MethodRouter<Arc<AppState>>> = BTreeMap::new();
    for op in Operation::ALL {
        let mut method_router = route(op);
        if op.auth() == Auth::Person {
            method_router =
                method_router.layer(middleware::from_fn_with_state(Arc::clone(&state), knobs));
        }
        let merged = match routes.remove(op.path()) {
            Some(other) => other.merge(method_router),
            None => method_router,
        };
        routes.insert(op.path(), merged);
    }
    let mut router = Router::new();
    for (path, method_router) in routes {
        router = router.route(path, method_router);
    }
    router
        .fallback(no_such_route)
        .method_not_allowed_fallback(no_such_method)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::Faults;

    fn sequence(seed: u64) -> Vec<Option<u64>> {
        let faults = Faults::new(Some(seed));
        (0..2000).map(|_| faults.next(0.2)).collect()
    }

    #[test]
    fn a_fault_seed_replays_the_same_faults() {
        let first = sequence(7);
        assert_eq!(first, sequence(7));
        assert_ne!(first, sequence(8));
        let faulted = first.iter().flatten().count();
        assert!((300..500).contains(&faulted), "{faulted} of 2000 at 0.2");
        for kind in 0..3 {
            assert!(first.contains(&Some(kind)), "every kind of fault occurs");
        }
        assert_eq!(Faults::new(Some(7)).next(0.0), None);
    }
}
