//! The registry over HTTP: a reqwest (rustls) client implementing [`Registry`] and
//! [`RegistryOperator`] against the API that `registry serve` (`registry::server`)
//! serves (or a gateway to the real system offers).
//!
//! Paths come from [`Operation`]'s table, bodies are the contract's serde types, and
//! problem documents come back as the typed [`RegistryError`] they were made from, so
//! `is_retryable()` means the same across HTTP. What never reached an answer (refused or
//! dropped connection, timeout, truncated body) becomes [`RegistryError::Unavailable`],
//! which is retryable: writes carry idempotency keys precisely so that repeating one
//! whose answer was lost is safe. There is no retry loop here; the executor owns
//! retries. Connect and request timeouts are always set.
//!
//! May use the registry's traits and types, reqwest and rustls.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::openapi::{IDEMPOTENCY_KEY, Operation, percent_encode};
use super::{
    AccessQuery, AccessReport, AccountPassword, AccountQuery, BatchOutcomes, BatchRequest,
    BatchResponse, BatchResult, BatchWrite, ClockAdvance, ClockReading, CloseReceipt,
    IdempotencyKey, IssuedToken, KnownHeadRadiologist, Lease, LeaseId, LeaseRequest, Limits,
    PageRequest, PendingNotice, Problem, Reference, Registry, RegistryError, RegistryOperator,
    RegistryStats, SessionId, SessionInfo, Ticket, TokenRequest, UserPage, WithPassword, Write,
    WriteReceipt,
};
use crate::model::{Hco, Insz, Kbo, KnownAccounts, LiveState};

/// Timeouts of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// Establishing a connection.
    pub connect_timeout: Duration,
    /// A whole request, answer included (an export of 100,000 users takes about a
    /// second on a laptop; the default leaves ample room).
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            // Short: an address that does not answer is a wrong address or a server
            // that is down, and the person waiting should hear so, with the address.
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The address is not `http(s)://host[:port]`.
    #[error("{0:?} is not an http:// or https:// registry address")]
    Address(String),
    /// reqwest could not build the client (TLS set-up).
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    /// Nothing accepted a connection at the address (refused, no route, name unknown,
    /// or no answer within the connect timeout).
    #[error(
        "cannot connect to the registry at {address}: {reason} (is `csamctl registry serve` running there, and is CSAM_REGISTRY / --registry right?)"
    )]
    Unreachable {
        /// The registry's address.
        address: String,
        /// What the connection attempt ran into.
        reason: String,
    },
}

/// A bearer token: never shown by `Debug`.
#[derive(Clone)]
struct Bearer(String);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The HTTP connection shared by the persons and the operator of one registry.
#[derive(Clone, Debug)]
struct Endpoint {
    client: reqwest::Client,
    base: String,
}

impl Endpoint {
    fn new(base: &str, options: HttpOptions) -> Result<Self, HttpClientError> {
        let base = base.trim_end_matches('/').to_string();
        let host = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .ok_or_else(|| HttpClientError::Address(base.clone()))?;
        // reqwest is built without a crypto provider of its own (no C toolchain for
        // aws-lc needed); ring is the process default unless someone installed another.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("csamctl/", env!("CARGO_PKG_VERSION")));
        let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if matches!(hostname, "127.0.0.1" | "localhost" | "[::1]") {
            builder = builder.no_proxy();
        }
        Ok(Endpoint {
            client: builder.build().map_err(HttpClientError::Client)?,
            base,
        })
    }

    /// One request without retries, to say early and clearly when nothing listens at
    /// the address. Only a failure to connect counts: an answer of any kind, even an
    /// error, shows that the address is right (the retrying callers handle the rest).
    async fn probe(&self) -> Result<(), HttpClientError> {
        match self
            .client
            .get(self.url(Operation::Limits, &[]))
            .send()
            .await
        {
            Err(e) if e.is_connect() || (e.is_timeout() && !e.is_body()) => {
                Err(HttpClientError::Unreachable {
                    address: self.base.clone(),
                    reason: root_cause(&e),
                })
            }
            _ => Ok(()),
        }
    }

    fn url(&self, op: Operation, params: &[&str]) -> String {
        format!("{}{}", self.base, op.url_path(params))
    }

    /// One request; the answer's body as `T`, or the error it stands for.
    async fn call<T: DeserializeOwned>(
        &self,
        token: &Bearer,
        op: Operation,
        params: &[&str],
        query: &str,
        body: Option<&(dyn ErasedBody + Sync)>,
        key: Option<&IdempotencyKey>,
    ) -> Result<T, RegistryError> {
        let response = self.send(token, op, params, query, body, key).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, &self.base))?;
        // An empty answer (204) reads as JSON null, which `()` accepts.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| RegistryError::Internal {
            reason: format!("malformed answer to {}: {e}", op.id()),
        })
    }

    async fn send(
        &self,
        token: &Bearer,
        op: Operation,
        params: &[&str],
        query: &str,
        body: Option<&(dyn ErasedBody + Sync)>,
        key: Option<&IdempotencyKey>,
    ) -> Result<reqwest::Response, RegistryError> {
        let method =
            Method::from_bytes(op.method().as_bytes()).map_err(|e| RegistryError::Internal {
                reason: e.to_string(),
            })?;
        let mut url = self.url(op, params);
        url.push_str(query);
        let mut request = self.client.request(method, url).bearer_auth(&token.0);
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_KEY, key.as_str());
        }
        if let Some(body) = body {
            let json = body.to_json().map_err(|e| RegistryError::Internal {
                reason: format!("request to JSON: {e}"),
            })?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json);
        }
        let response = request.send().await.map_err(|e| transport(e, &self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(refusal(response, &self.base).await)
    }
}

/// A request body of any serialisable type, behind a reference.
trait ErasedBody {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error>;
}

impl<T: Serialize> ErasedBody for T {
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// The innermost cause of an error (`Connection refused (os error 111)`), which is
/// what a person can act on; reqwest's own message only says "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// What a failed exchange with the registry at `base` means for the caller.
fn transport(e: reqwest::Error, base: &str) -> RegistryError {
    if e.is_builder() {
        return RegistryError::Internal {
            reason: format!("request could not be built: {e}"),
        };
    }
    let what = if e.is_timeout() {
        "the registry did not answer in time"
    } else if e.is_connect() {
        "cannot connect to the registry"
    } else {
        "the connection to the registry broke off"
    };
    RegistryError::Unavailable {
        reason: format!("{what} at {base}: {}", root_cause(&e)),
    }
}

/// The typed error of a non-success answer: the problem document's own error when
/// there is one, otherwise what the status says.
async fn refusal(response: reqwest::Response, base: &str) -> RegistryError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return transport(e, base),
    };
    if let Ok(problem) = serde_json::from_slice::<Problem>(&bytes) {
        return problem.error;
    }
    let reason = format!(
        "HTTP {status}{}",
        retry_after
            .map(|s| format!(", retry after {s} s"))
            .unwrap_or_default()
    );
    match status {
        StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT
        | StatusCode::TOO_MANY_REQUESTS
        | StatusCode::REQUEST_TIMEOUT => RegistryError::Unavailable { reason },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::NotAuthorised { reason },
        StatusCode::NOT_FOUND => RegistryError::NotFound { what: reason },
        s if s.is_client_error() => RegistryError::InvalidRequest { reason },
        _ => RegistryError::Internal { reason },
    }
}

/// The registry at an HTTP address, as the bearer of one token sees it.
#[derive(Clone, Debug)]
pub struct HttpRegistry {
    endpoint: Endpoint,
    token: Bearer,
}

impl HttpRegistry {
    /// A client for `base` (`http://127.0.0.1:8443`) acting with `token`. Nothing is
    /// sent yet.
    pub fn new(base: &str, token: &str, options: HttpOptions) -> Result<Self, HttpClientError> {
        Ok(HttpRegistry {
            endpoint: Endpoint::new(base, options)?,
            token: Bearer(token.to_string()),
        })
    }

    /// Checks once, without retries, that something accepts connections at the
    /// address: [`HttpClientError::Unreachable`] (naming it) within the connect timeout
    /// otherwise.
    pub async fn probe(&self) -> Result<(), HttpClientError> {
        self.endpoint.probe().await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        op: Operation,
        params: &[&str],
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<T, RegistryError> {
        self.endpoint
            .call(&self.token, op, params, "", body, None)
            .await
    }
}

#[async_trait]
impl Registry for HttpRegistry {
    async fn limits(&self) -> Result<Limits, RegistryError> {
        self.call(Operation::Limits, &[], None).await
    }

    async fn whoami(&self) -> Result<super::Me, RegistryError> {
        self.call(Operation::Me, &[], None).await
    }

    async fn open_session_keyed(&self, key: &IdempotencyKey) -> Result<SessionInfo, RegistryError> {
        self.endpoint
            .call(
                &self.token,
                Operation::OpenSession,
                &[],
                "",
                None,
                Some(key),
            )
            .await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, RegistryError> {
        self.call(Operation::ListSessions, &[], None).await
    }

    async fn close_session(&self, session: &SessionId) -> Result<CloseReceipt, RegistryError> {
        self.call(Operation::CloseSession, &[&session.0], None)
            .await
    }

    async fn snapshot(&self, session: &SessionId, kbo: &Kbo) -> Result<LiveState, RegistryError> {
        self.call(Operation::Snapshot, &[&session.0, kbo.compact()], None)
            .await
    }

    async fn list_users(
        &self,
        session: &SessionId,
        kbo: &Kbo,
        page: &PageRequest,
    ) -> Result<UserPage, RegistryError> {
        let mut query = Vec::new();
        if let Some(after) = &page.after {
            query.push(format!("after={}", percent_encode(after)));
        }
        if let Some(limit) = page.limit {
            query.push(format!("limit={limit}"));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.endpoint
            .call(
                &self.token,
                Operation::ListUsers,
                &[&session.0, kbo.compact()],
                &query,
                None,
                None,
            )
            .await
    }

    async fn write(
        &self,
        session: &SessionId,
        key: &IdempotencyKey,
        write: &Write,
        password: Option<&AccountPassword>,
    ) -> Result<WriteReceipt, RegistryError> {
        let body = WithPassword {
            write: write.clone(),
            password: password.cloned(),
        };
        self.endpoint
            .call(
                &self.token,
                Operation::Write,
                &[&session.0],
                "",
                Some(&body),
                Some(key),
            )
            .await
    }

    async fn write_batch(
        &self,
        session: &SessionId,
        writes: &[BatchWrite],
    ) -> Result<BatchOutcomes, RegistryError> {
        BatchRequest::check_len(writes.len())?;
        let request = BatchRequest {
            writes: writes.to_vec(),
        };
        let response: BatchResponse = self
            .call(Operation::WriteBatch, &[&session.0], Some(&request))
            .await?;
        if response.results.len() != writes.len() {
            return Err(RegistryError::Internal {
                reason: format!(
                    "malformed answer to write_batch: {} results for {} writes",
                    response.results.len(),
                    writes.len()
                ),
            });
        }
        Ok(response
            .results
            .into_iter()
            .map(|result| match result {
                BatchResult::Acknowledged { receipt } => Ok(*receipt),
                BatchResult::Refused { problem } => Err(problem.error),
            })
            .collect())
    }

    async fn tickets(&self, kbo: &Kbo) -> Result<Vec<Ticket>, RegistryError> {
        self.call(Operation::Tickets, &[kbo.compact()], None).await
    }

    async fn pending_notices(&self, kbo: &Kbo) -> Result<Vec<PendingNotice>, RegistryError> {
        self.call(Operation::PendingNotices, &[kbo.compact()], None)
            .await
    }

    async fn look_up_accounts(&self, query: &AccountQuery) -> Result<KnownAccounts, RegistryError> {
        self.call(Operation::LookUpAccounts, &[], Some(query)).await
    }

    async fn evaluate_access(
        &self,
        person: &Insz,
        site: Option<&Hco>,
    ) -> Result<AccessReport, RegistryError> {
        let query = AccessQuery {
            person: *person,
            site: site.cloned(),
        };
        self.call(Operation::EvaluateAccess, &[], Some(&query))
            .await
    }

    async fn acquire_lease(
        &self,
        kbo: &Kbo,
        request: &LeaseRequest,
    ) -> Result<Lease, RegistryError> {
        self.call(Operation::AcquireLease, &[kbo.compact()], Some(request))
            .await
    }

    async fn release_lease(&self, lease: &LeaseId) -> Result<(), RegistryError> {
        self.call(Operation::ReleaseLease, &[&lease.0], None).await
    }
}

/// The operator surface of a served registry, with the server's operator token.
#[derive(Clone, Debug)]
pub struct HttpOperator {
    endpoint: Endpoint,
    token: Bearer,
}

impl HttpOperator {
    /// The operator surface at `base`, acting with the operator token.
    pub fn new(
        base: &str,
        operator_token: &str,
        options: HttpOptions,
    ) -> Result<Self, HttpClientError> {
        Ok(HttpOperator {
            endpoint: Endpoint::new(base, options)?,
            token: Bearer(operator_token.to_string()),
        })
    }

    /// [`HttpRegistry::probe`] for the operator surface.
    pub async fn probe(&self) -> Result<(), HttpClientError> {
        self.endpoint.probe().await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        op: Operation,
        params: &[&str],
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<T, RegistryError> {
        self.endpoint
            .call(&self.token, op, params, "", body, None)
            .await
    }
}

#[async_trait]
impl RegistryOperator for HttpOperator {
    async fn issue_token(&self, person: &Insz) -> Result<String, RegistryError> {
        let issued: IssuedToken = self
            .call(
                Operation::IssueToken,
                &[],
                Some(&TokenRequest { person: *person }),
            )
            .await?;
        Ok(issued.token)
    }

    /// A client for the token's bearer, once the server has accepted the token.
    async fn connect(&self, token: &str) -> Result<Arc<dyn Registry>, RegistryError> {
        let registry = HttpRegistry {
            endpoint: self.endpoint.clone(),
            token: Bearer(token.to_string()),
        };
        registry.limits().await?;
        Ok(Arc::new(registry))
    }

    async fn all_tickets(&self) -> Result<Vec<Ticket>, RegistryError> {
        self.call(Operation::AllTickets, &[], None).await
    }

    async fn validate_ticket(&self, ticket: &str) -> Result<Ticket, RegistryError> {
        self.call(Operation::ValidateTicket, &[ticket], None).await
    }

    async fn notify_head_radiologist(
        &self,
        site: &Hco,
        person: &Insz,
    ) -> Result<(), RegistryError> {
        let notice = KnownHeadRadiologist {
            site: site.clone(),
            person: *person,
        };
        self.call(Operation::NotifyHeadRadiologist, &[], Some(&notice))
            .await
    }

    async fn advance_clock(&self, by_ms: u64) -> Result<i64, RegistryError> {
        let reading: ClockReading = self
            .call(Operation::AdvanceClock, &[], Some(&ClockAdvance { by_ms }))
            .await?;
        Ok(reading.now_ms)
    }

    async fn stats(&self) -> Result<RegistryStats, RegistryError> {
        self.call(Operation::Stats, &[], None).await
    }

    async fn load_reference(&self, reference: &Reference) -> Result<(), RegistryError> {
        self.call(Operation::LoadReference, &[], Some(reference))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_http_base_urls() {
        assert!(HttpRegistry::new("http://127.0.0.1:8443", "t", HttpOptions::default()).is_ok());
        assert!(HttpRegistry::new("https://csam.example/", "t", HttpOptions::default()).is_ok());
        for bad in ["file:x.db", "127.0.0.1:80", "http://", "http://h/path"] {
            assert!(
                matches!(
                    HttpRegistry::new(bad, "t", HttpOptions::default()),
                    Err(HttpClientError::Address(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let r = HttpRegistry::new("http://127.0.0.1:1", "csam_secret", HttpOptions::default())
            .expect("client");
        assert!(!format!("{r:?}").contains("csam_secret"));
    }

    /// A client for a closed port on 127.0.0.1 (bound, then let go), and its address.
    fn nobody_listening() -> (HttpRegistry, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let r = HttpRegistry::new(&addr, "t", HttpOptions::default()).expect("client");
        (r, addr)
    }

    /// Nothing listens on the address: a retryable error, not a hang or a panic.
    #[tokio::test]
    async fn refused_connection_is_retryable() {
        let (r, addr) = nobody_listening();
        let err = r.limits().await.expect_err("nobody listens");
        assert_eq!(err.code(), "unavailable");
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains(&addr),
            "the address is named: {err}"
        );
    }

    /// The probe says at once that nothing listens, naming the address and the cause.
    #[tokio::test]
    async fn the_probe_names_an_unreachable_address() {
        let (r, addr) = nobody_listening();
        let err = r.probe().await.expect_err("nobody listens");
        let HttpClientError::Unreachable { address, reason } = &err else {
            panic!("not Unreachable: {err:?}");
        };
        assert_eq!(address, &addr);
        assert!(!reason.is_empty());
        assert!(err.to_string().contains(&addr), "{err}");
    }

    #[test]
    fn problem_documents_carry_the_typed_error() {
        let e = RegistryError::LeaseHeld {
            kbo: "0198765470".into(),
            expires_at_ms: 7,
            holder: "csamctl apply (pid 7)".into(),
        };
        let text = serde_json::to_string(&Problem::new(e.clone(), 409)).expect("json");
        let back: Problem = serde_json::from_str(&text).expect("problem");
        assert_eq!(back.error, e);
        assert_eq!(back.status, 409);
        let unit = serde_json::to_string(&Problem::new(RegistryError::OneSitePerSession, 409))
            .expect("json");
        let back: Problem = serde_json::from_str(&unit).expect("unit variant");
        assert_eq!(back.error, RegistryError::OneSitePerSession);
        assert_eq!(back.title, "One site per session");
    }
}
