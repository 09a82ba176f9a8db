//! The token endpoint (`POST /oauth/token`, RFC 6749 §4.4) as a handler generic over
//! the ports, so tests hand it fakes and `main` hands it the AWS adapters.

use lambda_http::{Body, Request, Response};
use std::time::Duration;

pub mod config;

use m2m_core::error::{Chain, OAuthError, PortError};
use m2m_core::http_response::{admit, token_http_response, ErrorAnswer as _, Refusal};
use m2m_core::ports::{ClaimsHook, Directory, KeySets, Signer};
use m2m_core::quota::UsageTally;
use m2m_core::{issue_token, parse_token_request, IssuerConfig};

/// Everything the handler needs, built once at cold start.
pub struct App<D, S, H, K> {
    /// Issuer and default audience.
    pub config: IssuerConfig,
    /// Clients, grants and APIs.
    pub directory: D,
    /// The signing key.
    pub signer: S,
    /// The optional custom-claims hook.
    pub hook: Option<H>,
    /// Public key sets of clients' `jwks_uri`s and trusted issuers, fetched and
    /// cached.
    pub key_sets: K,
    /// This instance's usage counts not yet written ([`m2m_core::quota`]).
    pub usage: Usage,
}

/// An instance's tally of issued tokens per client and organization and hour, added
/// to the table at most once a minute, so counting usage costs no write per token.
#[derive(Debug, Default)]
pub struct Usage(std::sync::Mutex<UsageTally>);

impl Usage {
    /// Counts `token` at `now` and, when a flush is due, writes the tally. A failed
    /// write keeps the counts for the next flush; it never fails the request.
    async fn count<D: Directory>(&self, directory: &D, token: &m2m_core::TokenResponse, now: u64) {
        let due = {
            let mut tally = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            tally.add(&token.usage, now);
            tally.take_due(now)
        };
        let Some(counts) = due else { return };
        if let Err(e) = directory.record_usage(&counts).await {
            tracing::warn!(error = %Chain(&e), "could not record usage; kept for the next flush");
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .restore(counts);
        }
    }
}

/// The most one request may take before it is answered `503 server_error`: under the
/// function's 10 s timeout (template.yaml), so the caller always gets an RFC 6749
/// answer rather than a Lambda timeout. Each dependency call has its own, shorter
/// bound (SDK operation timeout, hook timeout, the 200 ms reuse write); this one
/// caps their sum (a registry refresh, a lookup, the hook and a signature in a row).
pub const REQUEST_BUDGET: Duration = Duration::from_millis(9000);

/// Handles one request at time `now` (unix seconds) within [`REQUEST_BUDGET`]. Never
/// fails: every outcome, including a dependency failure, is an HTTP response (RFC 6749
/// §5.1/§5.2).
pub async fn handle<D, S, H, K>(
    app: &App<D, S, H, K>,
    request: &Request,
    now: u64,
) -> Response<Body>
where
    D: Directory,
    S: Signer,
    H: ClaimsHook,
    K: KeySets,
{
    handle_within(app, request, now, REQUEST_BUDGET).await
}

/// [`handle`] with another budget (tests use a short one).
pub async fn handle_within<D, S, H, K>(
    app: &App<D, S, H, K>,
    request: &Request,
    now: u64,
    budget: Duration,
) -> Response<Body>
where
    D: Directory,
    S: Signer,
    H: ClaimsHook,
    K: KeySets,
{
    let header =
        |name: http::header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    // An Authorization header that is not visible ASCII cannot be HTTP Basic (RFC 7617
    // §2: base64 token68); ignoring it would silently switch to the body's credentials.
    let authorization_unreadable = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.to_str().is_err());
    let body = request.body().as_ref();
    let parsed = if authorization_unreadable {
        Err(Refusal::from(OAuthError::InvalidRequest(
            "the Authorization header must be ASCII".into(),
        )))
    } else {
        admit(request.method().as_str(), body).and_then(|()| {
            parse_token_request(
                header(http::header::CONTENT_TYPE),
                header(http::header::AUTHORIZATION),
                body,
            )
            .map_err(Refusal::from)
        })
    };
    let (client_id, outcome) = match parsed {
        Ok(req) => {
            let issued = issue_token(
                &req,
                now,
                &app.config,
                &app.directory,
                &app.signer,
                app.hook.as_ref(),
                &app.key_sets,
            );
            let outcome = match tokio::time::timeout(budget, issued).await {
                Ok(outcome) => outcome,
                Err(_) => Err(OAuthError::ServerError(PortError::timeout(format!(
                    "the request did not finish within its {} ms budget",
                    budget.as_millis()
                )))),
            };
            if let Ok(token) = &outcome {
                app.usage.count(&app.directory, token, now).await;
            }
            (Some(req.client_id), outcome.map_err(Refusal::from))
        }
        Err(e) => (None, Err(e)),
    };
    log_outcome(client_id.as_ref().map(|c| c.as_str()), &outcome);
    token_http_response(&outcome).map(Body::from)
}

pub use m2m_core::request::{loggable_client_id, MAX_LOGGED_CLIENT_ID, TRUNCATED_CLIENT_ID};

/// One log line per request: the client id and the outcome, never a secret or token.
fn log_outcome<T>(client_id: Option<&str>, outcome: &Result<T, Refusal>) {
    let client_id = loggable_client_id(client_id);
    let client_id = client_id.as_ref();
    match outcome {
        Ok(_) => tracing::info!(client_id, status = 200, "token issued"),
        Err(Refusal::OAuth(e @ OAuthError::ServerError(cause))) => tracing::error!(
            client_id,
            status = e.status().as_u16(),
            error = e.code(),
            cause = %Chain(cause),
            "token request failed"
        ),
        Err(e) => tracing::info!(
            client_id,
            status = e.status().as_u16(),
            error = e.code(),
            "token request refused"
        ),
    }
}
