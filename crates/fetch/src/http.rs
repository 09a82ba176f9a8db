//! One bounded GET of a JSON document: the guarded resolver, no redirects, no proxy,
//! one deadline over the whole exchange, a body read chunk by chunk up to the limit,
//! and only a `200` with a JSON media type accepted.

use std::error::Error as StdError;
use std::sync::Arc;

use m2m_core::error::PortError;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Response, StatusCode, Url};

use crate::policy::{host_label, FetchPolicy};
use crate::resolve::{AddressRefused, GuardedResolver};

/// What a key set or discovery fetch asks for: RFC 7517 §8.5.1 registers
/// `application/jwk-set+json`; OpenID discovery documents are `application/json`.
const ACCEPT_JSON: &str = "application/jwk-set+json, application/json";

const USER_AGENT: &str = concat!("m2m-auth/", env!("CARGO_PKG_VERSION"));

/// The HTTP client and the policy it enforces.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Client,
    policy: FetchPolicy,
}

impl Fetcher {
    /// A client that resolves through the guard, follows no redirect, uses no proxy
    /// (a proxy would resolve the name itself, out of the guard's sight) and sends no
    /// cookie, referer or credential.
    pub(crate) fn new(policy: FetchPolicy) -> Result<Self, PortError> {
        let client = Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!policy.allow_loopback)
            .referer(false)
            .http1_only()
            .user_agent(USER_AGENT)
            .connect_timeout(policy.timeout)
            .timeout(policy.timeout)
            .build()
            .map_err(|e| {
                PortError::unavailable("building the key set HTTP client").with_source(e)
            })?;
        Ok(Self { client, policy })
    }

    pub(crate) fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// The body of `url`, a JSON document of at most `max_bytes`.
    pub(crate) async fn get_json(&self, url: &Url) -> Result<Vec<u8>, PortError> {
        self.policy.check_parsed(url)?;
        let host = host_label(url);
        match tokio::time::timeout(self.policy.timeout, self.exchange(url, host)).await {
            Ok(result) => result,
            Err(_) => Err(self.timed_out(host)),
        }
    }

    async fn exchange(&self, url: &Url, host: &str) -> Result<Vec<u8>, PortError> {
        let response = self
            .client
            .get(url.clone())
            .header(ACCEPT, ACCEPT_JSON)
            .send()
            .await
            .map_err(|e| self.request_error(e, host))?;
        // The resolver has judged every address; this judges the one actually used.
        if let Some(peer) = response.remote_addr() {
            self.policy.permits(peer.ip()).map_err(|range| {
                PortError::refused(format!("{host}: connected to a refused address ({range})"))
            })?;
        }
        check_status(response.status(), host)?;
        check_json(&response, host)?;
        self.read_body(response, host).await
    }

    /// The body, read chunk by chunk and abandoned as soon as it passes the limit: a
    /// `Content-Length` may be absent (chunked encoding) or lie.
    async fn read_body(&self, mut response: Response, host: &str) -> Result<Vec<u8>, PortError> {
        let max = self.policy.max_bytes;
        let too_large =
            || PortError::refused(format!("{host}: the answer is larger than {max} bytes"));
        let announced = response.content_length().unwrap_or(0);
        if announced > u64::try_from(max).unwrap_or(u64::MAX) {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0).min(max));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.request_error(e, host))?
        {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn timed_out(&self, host: &str) -> PortError {
        PortError::timeout(format!(
            "{host}: no complete answer within {} ms",
            self.policy.timeout.as_millis()
        ))
    }

    /// A failed exchange as a `PortError`: the guard's refusal, a timeout, or the
    /// host being unreachable. The URL is dropped from the cause: the host is enough.
    fn request_error(&self, e: reqwest::Error, host: &str) -> PortError {
        let e = e.without_url();
        if let Some(refused) = find_cause::<AddressRefused>(&e) {
            return PortError::refused(refused.to_string()).with_source(e);
        }
        if e.is_timeout() {
            return self.timed_out(host).with_source(e);
        }
        let what = if e.is_connect() {
            "could not connect"
        } else {
            "the exchange failed"
        };
        PortError::unavailable(format!("{host}: {what}")).with_source(e)
    }
}

/// Only `200 OK` is an answer. A redirect is refused rather than followed: its target
/// would be a second URL nobody registered, and following it is how an allowed host
/// points a fetch at a forbidden one.
fn check_status(status: StatusCode, host: &str) -> Result<(), PortError> {
    let message = |what: &str| format!("{host}: {what} (HTTP {})", status.as_u16());
    match status {
        StatusCode::OK => Ok(()),
        s if s.is_redirection() => Err(PortError::refused(message("a redirect, not followed"))),
        StatusCode::TOO_MANY_REQUESTS => Err(PortError::throttled(message("throttled"))),
        s if s.is_server_error() => Err(PortError::unavailable(message("the server failed"))),
        _ => Err(PortError::refused(message("not a document"))),
    }
}

/// The answer must say it is JSON: `application/json` or any `application/*+json`
/// (RFC 6839 §3.1), such as `application/jwk-set+json`.
fn check_json(response: &Response, host: &str) -> Result<(), PortError> {
    let essence = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(PortError::malformed(format!(
            "{host}: the answer is not JSON"
        )))
    }
}

/// The first cause of type `T` in `e`'s source chain.
fn find_cause<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}
