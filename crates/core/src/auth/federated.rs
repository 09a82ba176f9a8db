//! Workload identity federation: a token from an external OpenID issuer (a
//! Kubernetes service-account token, a GitHub Actions OIDC token, a SPIFFE JWT-SVID)
//! presented as an RFC 7523 §2.2 client assertion, accepted when one of the client's
//! trust rules matches it.
//!
//! The external token is verified first, the same way whatever the client: the
//! issuer on the deployment's allowlist, its key from the issuer's discovery document
//! and JWKS (fetched and cached), an allowed algorithm, the times. Only then are the
//! client's rules for that issuer read and matched: `sub` (exact or an anchored
//! pattern), `aud`, and each claim condition. Such a token is the workload's standing
//! credential, presented again until its platform rotates it, so unlike a client's
//! own assertion its `jti` is not single-use.

use std::sync::Arc;

use super::{refused, Authenticated, Context, Credential};
use crate::assertion::{Assertion, AssertionError};
use crate::error::{Chain, OAuthError, PortError};
use crate::model::{Client, ClientStatus, TrustRule, MAX_CLIENT_KEYS};
use crate::ports::{Directory, JwkSet, JwksSource, KeySets};
use crate::types::ClientId;

const METHOD: &str = "private_key_jwt (federated)";

/// Authenticates a client by an external issuer's token and the client's trust rules
/// (see the module documentation).
///
/// # Errors
/// `invalid_client`, or `server_error` when the table fails or the issuer's keys are
/// unavailable for a transient reason.
pub async fn federated<'a, D: Directory, K: KeySets>(
    assertion: &Assertion,
    client_id: &ClientId,
    client: Option<&'a Client>,
    cx: &Context<'_, D, K>,
) -> Result<Authenticated<'a>, OAuthError> {
    let id = client_id.as_str();
    let claims = &assertion.claims;
    let issuer = claims.iss.as_str();
    if !cx.policy.trusted_issuers.iter().any(|t| t == issuer) {
        return Err(refused(
            id,
            METHOD,
            &"issuer not on the deployment's allowlist",
        ));
    }
    if assertion.alg().is_err() {
        return Err(refused(id, METHOD, &AssertionError::Algorithm));
    }
    let kid = assertion.header.kid.as_deref();
    let mut set = fetch(cx, issuer, false).await?;
    if kid.is_some_and(|k| {
        !set.keys
            .iter()
            .any(|j| j.common.key_id.as_deref() == Some(k))
    }) {
        set = fetch(cx, issuer, true).await?;
    }
    let verified = set
        .keys
        .iter()
        .filter(|j| kid.is_none() || j.common.key_id.as_deref() == kid)
        .take(MAX_CLIENT_KEYS)
        .any(|j| assertion.verified_by(j));
    if !verified {
        return Err(refused(id, METHOD, &AssertionError::Signature));
    }
    assertion
        .check_times(cx.now, cx.policy.clock_skew, None)
        .map_err(|e| refused(id, METHOD, &e))?;

    // Read whether or not the client exists, so an unknown client costs the same.
    let rules = cx.directory.trust_rules(client_id, issuer).await?;
    let Some(client) = client.filter(|c| c.status == ClientStatus::Active) else {
        return Err(refused(id, METHOD, &"unknown or disabled client"));
    };
    match rules.iter().find(|rule| matches(rule, assertion)) {
        Some(rule) => Ok(Authenticated {
            client,
            credential: Credential::TrustRule(rule.id.clone()),
        }),
        None => Err(refused(id, METHOD, &"no trust rule matches the token")),
    }
}

/// Whether `rule` accepts the (verified) external token: same issuer, `sub`
/// matching, the rule's audience among `aud`, and every claim condition met by a
/// string claim.
pub fn matches(rule: &TrustRule, assertion: &Assertion) -> bool {
    let claims = &assertion.claims;
    rule.issuer == claims.iss
        && rule.subject.matches(&claims.sub)
        && claims.aud.contains(&rule.audience)
        && rule.claims.iter().all(|(name, expected)| {
            claims
                .other
                .get(name)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|v| expected.matches(v))
        })
}

async fn fetch<D, K: KeySets>(
    cx: &Context<'_, D, K>,
    issuer: &str,
    refresh: bool,
) -> Result<Arc<JwkSet>, OAuthError> {
    cx.key_sets
        .key_set(JwksSource::Issuer(issuer), refresh)
        .await
        .map_err(key_set_error)
}

/// A key set that could not be had: transient failures are ours (`server_error`,
/// 503: retry); a refused address, a non-https URL or a malformed document fail the
/// assertion.
pub(crate) fn key_set_error(e: PortError) -> OAuthError {
    if e.kind().is_transient() {
        tracing::warn!(error = %Chain(&e), "a key set could not be fetched");
        OAuthError::ServerError(e)
    } else {
        tracing::info!(error = %Chain(&e), "a key set was refused");
        OAuthError::InvalidClient
    }
}
