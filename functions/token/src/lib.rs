//! The token endpoint (`POST /oauth/token`, RFC 6749 §4.4) as a handler generic over
//! the ports, so tests hand it fakes and `main` hands it the AWS adapters.

use lambda_http::{Body, Request, Response};
use m2m_core::error::{Chain, OAuthError};
use m2m_core::http_response::token_http_response;
use m2m_core::ports::{ClaimsHook, Directory, Signer};
use m2m_core::{issue_token, parse_token_request, IssuerConfig};

/// Everything the handler needs, built once at cold start.
pub struct App<D, S, H> {
    /// Issuer and default audience.
    pub config: IssuerConfig,
    /// Clients, grants and APIs.
    pub directory: D,
    /// The signing key.
    pub signer: S,
    /// The optional custom-claims hook.
    pub hook: Option<H>,
}

/// Handles one request at time `now` (unix seconds). Never fails: every outcome,
/// including a dependency failure, is an HTTP response (RFC 6749 §5.1/§5.2).
pub async fn handle<D, S, H>(app: &App<D, S, H>, request: &Request, now: u64) -> Response<Body>
where
    D: Directory,
    S: Signer,
    H: ClaimsHook,
{
    let header =
        |name: http::header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    let parsed = parse_token_request(
        request.method().as_str(),
        header(http::header::CONTENT_TYPE),
        header(http::header::AUTHORIZATION),
        request.body().as_ref(),
    );
    let (client_id, outcome) = match parsed {
        Ok(req) => {
            let outcome = issue_token(
                &req,
                now,
                &app.config,
                &app.directory,
                &app.signer,
                app.hook.as_ref(),
            )
            .await;
            (Some(req.client_id), outcome)
        }
        Err(e) => (None, Err(e)),
    };
    log_outcome(client_id.as_ref().map(|c| c.as_str()), &outcome);
    token_http_response(&outcome).map(Body::from)
}

/// One log line per request: the client id and the outcome, never a secret or token.
fn log_outcome<T>(client_id: Option<&str>, outcome: &Result<T, OAuthError>) {
    let client_id = client_id.unwrap_or("-");
    match outcome {
        Ok(_) => tracing::info!(client_id, status = 200, "token issued"),
        Err(e @ OAuthError::ServerError(cause)) => tracing::error!(
            client_id,
            status = e.status(),
            error = e.code(),
            cause = %Chain(cause),
            "token request failed"
        ),
        Err(e) => tracing::info!(
            client_id,
            status = e.status(),
            error = e.code(),
            "token request refused"
        ),
    }
}
