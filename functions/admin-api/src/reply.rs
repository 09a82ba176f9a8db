//! The management API's responses: JSON documents with their status and headers, and
//! errors as RFC 9457 problem details. The one place a [`ManageError`] becomes HTTP:
//! the detail says what the caller can act on; internal causes go to the log only.

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, ETAG, RETRY_AFTER};
use http::StatusCode;
use lambda_http::{Body, Response};
use m2m_core::error::{Chain, PortError, PortErrorKind};
use m2m_manage::{ManageError, StoreError};
use serde_json::{json, Value};

/// Marks a response that repeats an earlier request's result (same `Idempotency-Key`).
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Media type of problem details (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Prefix of the problem `type` URIs (RFC 9457 §3.1.1: a URI reference identifying the
/// problem type).
pub const PROBLEM_TYPE: &str = "urn:m2m-auth:problem:";

/// A successful answer, before it becomes an HTTP response.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The JSON body; none for 204.
    pub body: Option<Value>,
    /// Extra headers (ETag, Location, Idempotent-Replayed).
    pub headers: Vec<(HeaderName, String)>,
    /// What the change touched, for the audit line (an identifier, never a secret).
    pub target: Option<String>,
}

impl Reply {
    /// `status` with `body`.
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
            target: None,
        }
    }

    /// 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// 204, no body.
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
            headers: Vec::new(),
            target: None,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds the strong `ETag` of an item at `version` (RFC 9110 §8.8.3).
    #[must_use]
    pub fn etag(self, version: u64) -> Self {
        self.header(ETAG, etag(version))
    }

    /// Names what the change touched, for the audit line.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                builder = builder.header(name, v);
            }
        }
        let body = match self.body {
            Some(v) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::Empty,
        };
        builder.body(body).unwrap_or_default()
    }
}

/// The strong entity tag of version `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A problem the caller caused or can act on.
#[derive(Debug)]
pub struct Problem {
    /// The status.
    pub status: StatusCode,
    /// The problem type's last part (`not-found`).
    pub slug: &'static str,
    /// What happened, for the caller; never an internal message.
    pub detail: String,
    /// Extra headers (`Allow`, `Retry-After`, `ETag`).
    pub headers: Vec<(HeaderName, String)>,
}

impl Problem {
    /// A problem without extra headers.
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// 400 `invalid-request`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", detail)
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The RFC 9457 response.
    pub fn into_response(self) -> Response<Body> {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let body = json!({
            "type": format!("{PROBLEM_TYPE}{}", self.slug),
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut builder = Response::builder()
            .status(self.status)
            .header(CONTENT_TYPE, PROBLEM_JSON);
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                builder = builder.header(name, v);
            }
        }
        builder
            .body(Body::from(body.to_string()))
            .unwrap_or_default()
    }
}

fn port_problem(what: &str, e: &PortError) -> Problem {
    tracing::error!(error = %Chain(e), "{what} failed");
    // An unreachable backend is worth retrying too: a management call is not on a
    // latency budget, and its caller (a provisioning job) can wait and try again.
    if e.is_transient() || e.kind() == PortErrorKind::Unavailable {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{what} is unavailable; retry shortly"),
        )
        .header(RETRY_AFTER, "1")
    } else {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} failed; the request was not completed"),
        )
    }
}

impl From<ManageError> for Problem {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(_) | ManageError::UndefinedScopes { .. } => {
                Self::invalid(e.to_string())
            }
            ManageError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            ManageError::Exists(_)
            | ManageError::Refused(_)
            | ManageError::KeptChanging(_)
            | ManageError::ChangedConcurrently(_)
            | ManageError::IdempotencyInProgress => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            ManageError::VersionMismatch { current, .. } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                e.to_string(),
            )
            .header(ETAG, etag(current)),
            ManageError::IdempotencyKeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                e.to_string(),
            ),
            ManageError::Store(StoreError::Port(p)) => port_problem("the directory", &p),
            ManageError::Store(other) => {
                tracing::error!(error = %Chain(&other), "directory failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the directory could not complete the request",
                )
            }
            ManageError::Vault(p) => port_problem("the key vault", &p),
        }
    }
}
