//! The management API (`/admin/v1/`): the operator rules of `m2m-manage` over HTTP, for
//! the platform's own services (signup, offboarding) to provision customers from code.
//! A handler generic over the ports, so tests hand it in-memory fakes and `main` the
//! DynamoDB and KMS adapters.
//!
//! Every request needs a principal ([`auth`]); every change writes one audit line
//! (principal, action, target, outcome; never a secret); every error is an RFC 9457
//! problem document ([`reply`]).

use http::Method;
use lambda_http::{Body, Request, Response};
use m2m_manage::keys::KeyVault;
use m2m_manage::{AdminStore, Operator};

pub mod auth;
pub mod config;
mod ops;
pub mod render;
pub mod reply;
pub mod request;
pub mod route;

use crate::reply::{Problem, Reply};
use crate::route::Resource;

/// Everything the handler needs, built once at cold start.
pub struct App<S, V> {
    /// The operator rules over the directory.
    pub operator: Operator<S>,
    /// Where signing keys are made.
    pub vault: V,
    /// The local stack's stand-in principal (debug builds only; see [`auth`]).
    pub local_principal: Option<String>,
}

/// One request in context: the app, the request, its caller and the time.
pub(crate) struct Call<'a, S, V> {
    pub app: &'a App<S, V>,
    pub req: &'a Request,
    pub principal: &'a str,
    pub now: u64,
}

/// Handles one request at time `now` (Unix seconds). Never fails: every outcome is an
/// HTTP response.
pub async fn handle<S: AdminStore, V: KeyVault>(
    app: &App<S, V>,
    req: &Request,
    now: u64,
) -> Response<Body> {
    let Some(principal) = auth::principal(req, app.local_principal.as_deref()) else {
        tracing::warn!(
            path = req.uri().path(),
            "refused: no IAM principal in the request context"
        );
        return Problem::new(
            http::StatusCode::FORBIDDEN,
            "unauthenticated",
            "the management API needs an IAM-signed (SigV4) request",
        )
        .into_response();
    };
    let Some(resource) = Resource::parse(req.uri().path()) else {
        return Problem::new(http::StatusCode::NOT_FOUND, "not-found", "no such resource")
            .into_response();
    };
    let method = req.method().clone();
    if !resource.allowed().contains(&method) {
        let allow: Vec<&str> = resource.allowed().iter().map(Method::as_str).collect();
        return Problem::new(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{method} is not allowed here; use {}", allow.join(", ")),
        )
        .header(http::header::ALLOW, allow.join(", "))
        .into_response();
    }
    let call = Call {
        app,
        req,
        principal: &principal,
        now,
    };
    let outcome = ops::dispatch(&call, &method, &resource).await;
    let changes = method != Method::GET;
    match outcome {
        Ok(reply) => {
            if changes {
                audit(
                    &principal,
                    &method,
                    &resource,
                    reply.target.as_deref(),
                    "ok",
                );
            }
            reply.into_response()
        }
        Err(problem) => {
            if changes {
                audit(&principal, &method, &resource, None, problem.slug);
            }
            problem.into_response()
        }
    }
}

/// The audit line of a change: who, what, on what, and how it ended.
fn audit(
    principal: &str,
    method: &Method,
    resource: &Resource,
    target: Option<&str>,
    outcome: &str,
) {
    tracing::info!(
        audit = true,
        principal,
        action = ops::action(method, resource),
        target = target.unwrap_or_else(|| ops::target(resource)),
        outcome,
        "management change"
    );
}

/// The result of an operation: a reply or a problem.
pub(crate) type Outcome = Result<Reply, Problem>;
