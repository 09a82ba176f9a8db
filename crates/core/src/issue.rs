//! The use case: issue one access token for a client credentials request
//! (RFC 6749 §4.4.3), given the directory, the signer, the optional claims hook and
//! the current time.

use std::collections::BTreeSet;

use crate::auth::{authenticate, AssertionPolicy, Context, Credential};
use crate::claims::{build_claims, merge_custom_claims, typ, ClaimInput};
use crate::error::{Chain, OAuthError};
use crate::hook::{HookClient, HookRequest, HOOK_VERSION};
use crate::jws::{compact, signing_input, JwsError, JwsHeader};
use crate::ports::{ClaimsHook, Directory, KeySets, Signer};
use crate::request::{ClientAuth, TokenRequest};
use crate::reuse::{fingerprint, reusable_expires_in, CachedToken, FingerprintInput, ReuseKey};
use crate::types::{Audience, Scope, ScopeSet};

/// `last_used_at` is written at most this often per secret (seconds).
pub const SECRET_USE_RECORD_INTERVAL: u64 = 3600;

/// Deployment settings the use case needs (DESIGN.md "Configuration").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// `iss` of every token: the issuer URL (RFC 8414 §2).
    pub issuer: String,
    /// The audience used when a request names none.
    pub default_audience: Option<Audience>,
    /// Which client assertions are accepted (`private_key_jwt`, federation).
    pub assertions: AssertionPolicy,
}

/// The token endpoint's path under the issuer (the token function's route).
pub const TOKEN_PATH: &str = "/oauth/token";

impl IssuerConfig {
    /// The token endpoint's URL: the issuer, without a trailing slash, and
    /// [`TOKEN_PATH`]. With the issuer, the audience a client assertion may name
    /// (RFC 7523 §3 item 3).
    pub fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.issuer.trim_end_matches('/'))
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The granted scopes, space-delimited (RFC 6749 §3.3).
    pub scope: String,
    /// Whose usage it counts: the client and its organization (not part of the
    /// response body).
    pub usage: crate::quota::UsageSubject,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A bearer token is a credential: never print it whole.
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("usage", &self.usage)
            .finish()
    }
}

/// Issues an access token.
///
/// Order matters for what an unauthenticated caller can learn: the client is
/// authenticated ([`crate::auth`], whichever the method) before the audience, grant or
/// scope is examined, and an unknown client costs the same work as a known one
/// (timing). Then: unknown
/// audience `invalid_target` (RFC 8707 §2), no grant `access_denied`, a scope not
/// granted `invalid_scope` (RFC 6749 §5.2). Then a still-fresh token from the reuse
/// cache ([`crate::reuse`]) is returned with its remaining lifetime as `expires_in`
/// (RFC 6749 §5.1) and nothing is signed; otherwise the hook (fail closed), signing,
/// and keeping the new token for reuse.
pub async fn issue_token<D, S, H, K>(
    request: &TokenRequest,
    now: u64,
    config: &IssuerConfig,
    directory: &D,
    signer: &S,
    hook: Option<&H>,
    key_sets: &K,
) -> Result<TokenResponse, OAuthError>
where
    D: Directory,
    S: Signer,
    H: ClaimsHook,
    K: KeySets,
{
    let audience = request
        .audience
        .as_ref()
        .or(config.default_audience.as_ref())
        .ok_or_else(|| OAuthError::InvalidRequest("audience (or resource) is required".into()))?;

    // The reuse cache entry is read in the same round trip as client, grant and API,
    // whether or not this API turns out to allow reuse. Its key is derived from the
    // presented credential, so it is known before the read and only that credential
    // reaches it: a secret, or an external issuer's token (a standing credential). A
    // client's own assertion is single-use, so nothing could be found under it, and
    // its public key is no secret to seal with: such requests always sign.
    let credential = match &request.auth {
        ClientAuth::SecretBasic(secret) | ClientAuth::SecretPost(secret) => Some(secret.expose()),
        ClientAuth::JwtAssertion(a)
            if !crate::auth::private_key_jwt::is_self_signed(a, &request.client_id) =>
        {
            Some(a.expose())
        }
        ClientAuth::JwtAssertion(_) => None,
    };
    let reuse_key = credential.map(|c| {
        ReuseKey::from_credential(&request.client_id, c, audience, request.scope.as_ref())
    });
    let lookup = match &reuse_key {
        Some(key) => {
            directory
                .lookup_with_reuse(&request.client_id, audience, key)
                .await?
        }
        None => directory.lookup(&request.client_id, audience).await?,
    };

    // Authentication (RFC 6749 §3.2.1): one answer for every failure.
    let token_endpoint = config.token_endpoint();
    let cx = Context {
        now,
        issuer: &config.issuer,
        token_endpoint: &token_endpoint,
        policy: &config.assertions,
        directory,
        key_sets,
    };
    let authenticated = authenticate(
        &request.client_id,
        &request.auth,
        lookup.client.as_ref(),
        &cx,
    )
    .await?;
    let client = authenticated.client;
    let secret = match authenticated.credential {
        Credential::Secret(secret) => Some(secret),
        Credential::Key(_) | Credential::TrustRule(_) => None,
    };

    let api = lookup.api.as_ref().ok_or(OAuthError::InvalidTarget)?;
    let grant = lookup.grant.as_ref().ok_or_else(|| {
        OAuthError::AccessDenied("the client has no grant for this audience".into())
    })?;

    // Scopes the client may have: granted and still defined by the API.
    let allowed = grant.scopes.intersection(&api.scopes);
    let mut scopes = match &request.scope {
        None => allowed,
        Some(requested) => {
            let missing = requested.difference(&allowed);
            if let Some(first) = missing.iter().next() {
                return Err(OAuthError::InvalidScope(format!(
                    "scope {first} is not granted to this client for this audience"
                )));
            }
            requested.clone()
        }
    };

    // Quotas (per client, per organization): after authentication and the grant, so
    // nobody can use up a client's quota without its credential; before reuse and
    // signing, so a refused request gets nothing. No counter, no call.
    let counters = crate::quota::counters(client, now);
    if !counters.is_empty() {
        if let Err(retry_after) = directory.consume_quota(&counters, now).await? {
            tracing::info!(client_id = %client.id, retry_after, "token request over quota");
            return Err(OAuthError::TooManyRequests { retry_after });
        }
    }

    let lifetime = api.effective_lifetime();
    // Record the secret's use at most once an hour, concurrently with the rest.
    let due = secret.filter(|s| {
        s.last_used_at
            .is_none_or(|t| now.saturating_sub(t) >= SECRET_USE_RECORD_INTERVAL)
    });
    let record_use = async {
        if let Some(secret) = due {
            if let Err(e) = directory
                .record_secret_use(&client.id, &secret.id, now)
                .await
            {
                tracing::warn!(client_id = %client.id, error = %Chain(&e), "could not record secret use");
            }
        }
    };

    // Token reuse: only after authentication, audience, grant and scopes have all been
    // checked against what was just read.
    let key = signer.active_key().await?;
    let reuse = reuse_key
        .as_ref()
        .zip(api.reuse.min_remaining_pct(hook.is_some()))
        .map(|(reuse_key, min_remaining_pct)| {
            let fingerprint = fingerprint(&FingerprintInput {
                issuer: &config.issuer,
                key: reuse_key,
                client,
                grant,
                api,
                signing_key: &key,
                hook: hook.map(ClaimsHook::identity),
            });
            (reuse_key, min_remaining_pct, fingerprint)
        });
    let cached = match (&reuse, &lookup.reuse) {
        (Some((reuse_key, _, _)), Some(sealed)) => reuse_key.open(&client.id, sealed),
        _ => None,
    };
    // A token issued before the client's revocation instant is never handed out again
    // (RFC 7009 §2); a revocation by `jti` changes the fingerprint (the client's
    // revocation epoch), so no cached token survives it either.
    let cached = cached.filter(|c| client.not_before.is_none_or(|nb| c.issued_at >= nb));
    if let (Some((_, pct, expected)), Some(cached)) = (&reuse, &cached) {
        if let Some(expires_in) = reusable_expires_in(cached, expected, now, *pct) {
            record_use.await;
            tracing::debug!(client_id = %client.id, expires_in, "token reused");
            return Ok(TokenResponse {
                access_token: cached.access_token.clone(),
                expires_in,
                scope: cached.scope.clone(),
                usage: crate::quota::UsageSubject::of(client),
            });
        }
    }

    let mut claims = build_claims(&ClaimInput {
        issuer: &config.issuer,
        client,
        audience,
        scopes: &scopes,
        now,
        lifetime,
        profile: api.profile,
    });

    if let Some(hook) = hook {
        let hook_request = HookRequest {
            version: HOOK_VERSION.to_owned(),
            client: HookClient {
                id: client.id.as_str().to_owned(),
                name: client.name.clone(),
                org_id: client.org_id.as_ref().map(|o| o.as_str().to_owned()),
                metadata: client.metadata.clone(),
            },
            audience: audience.as_str().to_owned(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            claims: claims.clone(),
        };
        let answer = hook.call(&hook_request).await.map_err(|e| {
            tracing::error!(client_id = %client.id, error = %Chain(&e), "claims hook failed; no token issued");
            OAuthError::ServerError(e)
        })?;
        if let Some(deny) = answer.deny {
            let description = if deny.error_description.is_empty() {
                "the claims hook denied the request".to_owned()
            } else {
                deny.error_description
            };
            return Err(OAuthError::AccessDenied(description));
        }
        if let Some(narrowed) = answer.scopes {
            let narrowed: BTreeSet<String> = narrowed.into_iter().collect();
            let narrowed: ScopeSet = narrowed.into_iter().map(Scope::new).collect();
            if !narrowed.is_subset(&scopes) {
                tracing::error!(client_id = %client.id, "claims hook tried to widen scopes; no token issued");
                return Err(OAuthError::server(
                    "claims hook answered scopes outside the request",
                ));
            }
            scopes = narrowed;
            claims.insert("scope".into(), scopes.to_wire().into());
        }
        let dropped = merge_custom_claims(&mut claims, answer.claims, hook.allowed_claims());
        if !dropped.is_empty() {
            tracing::warn!(client_id = %client.id, dropped = ?dropped, "claims hook tried to set reserved or plain claim names; dropped");
        }
    }

    let header = JwsHeader {
        alg: key.alg.as_str(),
        kid: key.kid.as_str(),
        typ: typ(api.profile),
    };
    let input = signing_input(&header, &claims).map_err(|e| match e {
        JwsError::TooLarge(n) => OAuthError::server(format!(
            "signing input of {n} bytes exceeds the 4096-byte KMS RAW limit"
        )),
        JwsError::Json(e) => OAuthError::server(format!("claims serialization failed: {e}")),
    })?;

    let scope = scopes.to_wire();
    let sign_and_keep = async {
        let signature = signer.sign(&key, input.as_bytes()).await?;
        let access_token = compact(&input, &signature);
        let Some((reuse_key, _, fingerprint)) = reuse else {
            return Ok::<String, OAuthError>(access_token);
        };
        let cached = CachedToken {
            access_token,
            scope: scope.clone(),
            issued_at: now,
            expires_at: now.saturating_add(lifetime),
            fingerprint,
        };
        // Not fatal: the next request signs again. The error never holds the token.
        match reuse_key.seal(&client.id, &cached) {
            Some(sealed) => {
                if let Err(e) = directory.store_reuse(&client.id, reuse_key, &sealed).await {
                    tracing::warn!(client_id = %client.id, error = %Chain(&e), "could not keep the token for reuse");
                }
            }
            None => tracing::warn!(client_id = %client.id, "could not seal the token for reuse"),
        }
        Ok(cached.access_token)
    };
    let (access_token, ()) = futures_util::future::join(sign_and_keep, record_use).await;

    Ok(TokenResponse {
        access_token: access_token?,
        expires_in: lifetime,
        scope,
        usage: crate::quota::UsageSubject::of(client),
    })
}
