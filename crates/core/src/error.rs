//! The one error type of the token endpoint: each variant carries its RFC 6749 §5.2
//! (or RFC 8707 §2) wire code; internal causes are kept for the log, never the body.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

/// What kind of failure a dependency (store, KMS, hook) reported. The kind decides the
/// HTTP status of a `server_error` and whether retrying later may help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortErrorKind {
    /// The dependency failed or could not be reached.
    Unavailable,
    /// The dependency throttled us: retrying later helps.
    Throttled,
    /// An attempt or the whole operation ran out of time: retrying later helps.
    Timeout,
    /// The dependency answered with something unusable: a malformed item, answer or
    /// signature.
    Malformed,
    /// The dependency refused the operation: access denied, a disabled key, no active
    /// signing key, a claims hook that failed.
    Refused,
}

impl PortErrorKind {
    /// True when retrying later may succeed (the caller gets 503 rather than 500).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Timeout)
    }
}

/// Why a dependency (store, KMS, hook) failed: a kind, what failed, and the
/// underlying cause. Logged, never sent to a caller.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    kind: PortErrorKind,
    /// What failed, for the log. Must never contain a secret or a token.
    message: String,
    /// The underlying cause, for the log.
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl PortError {
    /// A failure of kind `kind`; `message` says what failed (never a secret).
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// [`PortErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Unavailable, message)
    }

    /// [`PortErrorKind::Throttled`].
    pub fn throttled(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Throttled, message)
    }

    /// [`PortErrorKind::Timeout`].
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Timeout, message)
    }

    /// [`PortErrorKind::Malformed`].
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Malformed, message)
    }

    /// [`PortErrorKind::Refused`].
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(PortErrorKind::Refused, message)
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The same failure reported as another kind (a timed-out hook is a refusal to the
    /// token endpoint: retrying would only wait again).
    pub fn with_kind(mut self, kind: PortErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> PortErrorKind {
        self.kind
    }

    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// What failed (no secret, no token).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// An OAuth error response (RFC 6749 §5.2, RFC 8707 §2, RFC 6750 §3.1). The HTTP-level
/// refusals of the token endpoint (wrong method, oversized body) are not OAuth errors:
/// see [`crate::http_response::Refusal`].
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// RFC 6749 §5.2 `invalid_request`: "The request is missing a required parameter,
    /// includes an unsupported parameter value (other than grant type), repeats a
    /// parameter, includes multiple credentials, ... or is otherwise malformed."
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2 `invalid_client`: "Client authentication failed (e.g., unknown
    /// client, no client authentication included, or unsupported authentication
    /// method)." The description is the same for every cause, so an unknown client and
    /// a wrong secret cannot be told apart.
    #[error("invalid_client")]
    InvalidClient,
    /// RFC 6749 §5.2 `unsupported_grant_type`: only `client_credentials` is served.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// RFC 8707 §2 `invalid_target`: the requested resource (audience) is unknown.
    #[error("invalid_target")]
    InvalidTarget,
    /// RFC 6749 §4.1.2.1 `access_denied`: no grant for the audience, or the claims
    /// hook refused. The description is the hook's, or a fixed one.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 6749 §5.2 `invalid_scope`: a requested scope is not granted or unknown.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// Over a quota the operator set for the client or its organization: HTTP 429
    /// (RFC 6585 §4) with `Retry-After` (RFC 9110 §10.2.3) in seconds until the
    /// window that is full resets, and the OAuth-style body `too_many_requests` that
    /// Auth0's token endpoint also answers. Nothing is signed.
    #[error("too_many_requests")]
    TooManyRequests {
        /// Seconds until a request may succeed.
        retry_after: u64,
    },
    /// RFC 6749 §5.2 `server_error` (as in §4.1.2.1): store, KMS or hook failure.
    /// The cause goes to the log only.
    #[error("server_error: {0}")]
    ServerError(#[source] PortError),
}

impl OAuthError {
    /// The `error` code of the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied(_) => "access_denied",
            Self::InvalidScope(_) => "invalid_scope",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::ServerError(_) => "server_error",
        }
    }

    /// The HTTP status (RFC 6749 §5.2: 400 unless stated; 401 for `invalid_client`
    /// when the client authenticated, or tried to, via the Authorization header —
    /// we answer 401 for every `invalid_client`, with `WWW-Authenticate`).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerError(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `error_description`: safe to show a caller, never an internal detail.
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d) | Self::AccessDenied(d) | Self::InvalidScope(d) => d.clone(),
            Self::InvalidClient => "client authentication failed".to_owned(),
            Self::UnsupportedGrantType => {
                "only the client_credentials grant is supported".to_owned()
            }
            Self::InvalidTarget => "the requested audience is not a known API".to_owned(),
            Self::TooManyRequests { .. } => {
                "the client's token request quota is used up; retry after the time given".to_owned()
            }
            Self::ServerError(e) if e.is_transient() => {
                "the server is busy; retry later".to_owned()
            }
            Self::ServerError(_) => "the server could not issue a token".to_owned(),
        }
    }

    /// Seconds to wait before retrying, when retrying later helps: a quota's window,
    /// or a throttled or timed-out dependency.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after } => Some((*retry_after).max(1)),
            Self::ServerError(e) if e.is_transient() => {
                Some(crate::http_response::RETRY_AFTER_SECONDS)
            }
            _ => None,
        }
    }

    /// Shorthand for a `server_error` with a message for the log.
    pub fn server(message: impl Into<String>) -> Self {
        Self::ServerError(PortError::unavailable(message))
    }
}

impl From<PortError> for OAuthError {
    fn from(e: PortError) -> Self {
        Self::ServerError(e)
    }
}

/// A display wrapper that prints an error with its whole `source()` chain, for logs.
pub struct Chain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(e) = cur {
            write!(f, ": {e}")?;
            cur = e.source();
        }
        Ok(())
    }
}
