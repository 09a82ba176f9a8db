//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the client signs
//! a short-lived JWT about itself with a private key it never shares; the server
//! verifies it with a public key the client registered, or one published at the
//! client's `jwks_uri`.

use std::sync::{Arc, LazyLock};

use jsonwebtoken::jwk::Jwk;

use super::{refused, Authenticated, Context, Credential};
use crate::assertion::{Assertion, AssertionError};
use crate::error::OAuthError;
use crate::model::{Client, ClientStatus, MAX_CLIENT_KEYS};
use crate::ports::{Directory, JwksSource, KeySets};
use crate::types::ClientId;

const METHOD: &str = "private_key_jwt";

/// Whether the assertion is the client's own (`iss` = the client id, RFC 7523 §3
/// item 1) rather than a token from an external issuer.
pub fn is_self_signed(assertion: &Assertion, client_id: &ClientId) -> bool {
    assertion.claims.iss == client_id.as_str()
}

/// Authenticates a client by its own signed assertion. In order: an allowed `alg`;
/// for an unknown client, a verification against a fixed key so the failure costs
/// what a wrong signature costs; the key by `kid`, or each of the client's keys that
/// fits the algorithm when the header has none; the signature; `sub` = `iss` = the
/// client id (item 2); `aud` the issuer identifier or the token endpoint (item 3);
/// `exp` present, not passed and at most [`super::AssertionPolicy::max_assertion_lifetime`]
/// ahead, `iat` and `nbf` not in the future (items 4–6); `jti` present and never seen
/// before (item 7), remembered until the assertion expires. A disabled client fails
/// like an unknown one.
///
/// # Errors
/// `invalid_client`, or `server_error` when the table or the key set fetch fails for
/// a reason that is not the caller's.
pub async fn private_key_jwt<'a, D: Directory, K: KeySets>(
    assertion: &Assertion,
    client_id: &ClientId,
    client: Option<&'a Client>,
    cx: &Context<'_, D, K>,
) -> Result<Authenticated<'a>, OAuthError> {
    let id = client_id.as_str();
    let Ok(alg) = assertion.alg() else {
        return Err(refused(id, METHOD, &AssertionError::Algorithm));
    };
    let Some(client) = client else {
        // The same signature verification a known client's wrong key costs.
        let _ = assertion.verified_by(dummy_key(alg));
        return Err(refused(id, METHOD, &"unknown client"));
    };

    let kid = assertion.header.kid.as_deref();
    let verified = match &client.jwks_uri {
        Some(uri) => {
            let mut set = fetch(cx, uri, false).await?;
            if kid.is_some_and(|k| !set.keys.iter().any(|j| has_kid(j, k))) {
                set = fetch(cx, uri, true).await?;
            }
            verify_with(assertion, kid, set.keys.iter().map(|j| (key_id(j), j)))
        }
        None => {
            let registered: Vec<(String, Jwk)> = client
                .keys
                .iter()
                .filter(|k| k.usable_at(cx.now))
                .filter_map(|k| Some((k.kid.clone(), serde_json::from_str(&k.jwk).ok()?)))
                .collect();
            verify_with(
                assertion,
                kid,
                registered.iter().map(|(k, j)| (Some(k.as_str()), j)),
            )
        }
    };
    let Some(used_kid) = verified else {
        return Err(refused(id, METHOD, &AssertionError::Signature));
    };

    let claims = &assertion.claims;
    if claims.sub != id {
        return Err(refused(id, METHOD, &"sub is not the client id"));
    }
    assertion
        .check_audience(&[cx.issuer, cx.token_endpoint])
        .and_then(|()| {
            assertion.check_times(
                cx.now,
                cx.policy.clock_skew,
                Some(cx.policy.max_assertion_lifetime),
            )
        })
        .map_err(|e| refused(id, METHOD, &e))?;
    let Some(jti) = claims.jti.as_deref().filter(|j| !j.is_empty()) else {
        return Err(refused(id, METHOD, &AssertionError::Missing("jti")));
    };
    if client.status != ClientStatus::Active {
        return Err(refused(id, METHOD, &"client disabled"));
    }
    let keep_until = claims.exp.saturating_add(cx.policy.clock_skew);
    if !cx.directory.claim_jti(client_id, jti, keep_until).await? {
        return Err(refused(id, METHOD, &"jti replayed"));
    }
    Ok(Authenticated {
        client,
        credential: Credential::Key(used_kid),
    })
}

/// The `kid` of the key that verifies the assertion: the one named by the header's
/// `kid`, or, without one, the first of at most [`MAX_CLIENT_KEYS`] candidates that
/// does. The key's `kid` (or its position) is returned for the log.
fn verify_with<'k>(
    assertion: &Assertion,
    kid: Option<&str>,
    candidates: impl Iterator<Item = (Option<&'k str>, &'k Jwk)>,
) -> Option<String> {
    let mut tried = 0;
    for (i, (candidate_kid, jwk)) in candidates.enumerate() {
        if let Some(wanted) = kid {
            if candidate_kid != Some(wanted) {
                continue;
            }
        }
        tried += 1;
        if tried > MAX_CLIENT_KEYS {
            return None;
        }
        if assertion.verified_by(jwk) {
            return Some(candidate_kid.map_or_else(|| format!("#{i}"), str::to_owned));
        }
    }
    None
}

async fn fetch<D, K: KeySets>(
    cx: &Context<'_, D, K>,
    uri: &str,
    refresh: bool,
) -> Result<Arc<crate::ports::JwkSet>, OAuthError> {
    cx.key_sets
        .key_set(JwksSource::Uri(uri), refresh)
        .await
        .map_err(super::federated::key_set_error)
}

fn key_id(jwk: &Jwk) -> Option<&str> {
    jwk.common.key_id.as_deref()
}

fn has_kid(jwk: &Jwk, kid: &str) -> bool {
    key_id(jwk) == Some(kid)
}

/// Public keys nobody holds the private half of, one per key type: what an unknown
/// client's assertion is verified against.
fn dummy_key(alg: crate::assertion::AssertionAlg) -> &'static Jwk {
    use crate::assertion::AssertionAlg::{EdDSA, ES256, PS256, RS256};
    static RSA: LazyLock<Option<Jwk>> = LazyLock::new(|| {
        serde_json::from_str(r#"{"kty":"RSA","e":"AQAB","n":"4_7I-pwnjP8IUpn3MTR-m3BALoE8HToVdiC0PJbRIw8fRHDgBBh8t5Ppc0HdOytGcxjau7kz0O6lZclnX3YCQqnzWpzvRajkJ2sxKNhjHnIHBVojwP3xkJCdiPGJzwQ-O5nHFRaYuYFaxggpp2DkoYW8vywYZ5sPDg575jfFKzSI_VDOaS8DEGtu_bYOf_muP6byKnP8yzTSOBBLJKEMORYrcI2BqCcyunIyfI6qOb2qjX7l232sW8KdbYrUV2Y3d3Rkf7dl32XRM0EY6RsrgHfN6Kuvsa3RMGnUEBRdA8nu0s_SPBAY9ZAPthsGNUZ32mgR-gB9qMhLMq-tsCXKmQ"}"#).ok()
    });
    static EC: LazyLock<Option<Jwk>> = LazyLock::new(|| {
        serde_json::from_str(r#"{"kty":"EC","crv":"P-256","x":"PlaUj0LwZRSh40PPNLXSOv43pcBd79lHnkZcSe9DPwY","y":"wGZk2xZURDVtd5XbjW2PVXLDA7suQJbNX1Q68IwOaP8"}"#).ok()
    });
    static OKP: LazyLock<Option<Jwk>> = LazyLock::new(|| {
        serde_json::from_str(
            r#"{"kty":"OKP","crv":"Ed25519","x":"xO_wCU_o54XPck09NouDG6hAWXZCNSni7nU-PoM4nZE"}"#,
        )
        .ok()
    });
    static NONE: LazyLock<Jwk> = LazyLock::new(|| Jwk {
        common: jsonwebtoken::jwk::CommonParameters::default(),
        algorithm: jsonwebtoken::jwk::AlgorithmParameters::OctetKey(
            jsonwebtoken::jwk::OctetKeyParameters::default(),
        ),
    });
    let key = match alg {
        RS256 | PS256 => RSA.as_ref(),
        ES256 => EC.as_ref(),
        EdDSA => OKP.as_ref(),
    };
    key.unwrap_or(&NONE)
}
