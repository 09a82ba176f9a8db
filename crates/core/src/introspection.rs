//! The use cases of the introspection (RFC 7662) and revocation (RFC 7009)
//! endpoints. Both authenticate the caller exactly as the token endpoint does
//! ([`crate::auth`]: every method, the same indistinguishable `invalid_client`), then
//! verify the presented token as one of this server's access tokens
//! ([`crate::access_token`]: the published keys, the issuer, the times).

use serde_json::{Map, Value};

use crate::access_token::{verify_access_token, VerifiedToken};
use crate::auth::{authenticate, Authenticated, Context};
use crate::error::OAuthError;
use crate::issue::IssuerConfig;
use crate::model::{ClientStatus, SigningKey};
use crate::ports::{Directory, KeySets};
use crate::request::TokenOperation;
use crate::revocation::{Revocation, Revocations};
use crate::types::ClientId;

/// The ports both endpoints use.
pub struct Endpoints<'a, D, K, R> {
    /// The deployment's issuer and assertion policy.
    pub config: &'a IssuerConfig,
    /// Clients (the caller, and the token's client).
    pub directory: &'a D,
    /// Key sets for callers that authenticate with an assertion.
    pub key_sets: &'a K,
    /// Revocation state.
    pub revocations: &'a R,
}

impl<D: Directory, K: KeySets, R: Revocations> Endpoints<'_, D, K, R> {
    async fn caller<'c>(
        &self,
        op: &TokenOperation,
        client: Option<&'c crate::model::Client>,
        now: u64,
    ) -> Result<Authenticated<'c>, OAuthError> {
        let token_endpoint = self.config.token_endpoint();
        let cx = Context {
            now,
            issuer: &self.config.issuer,
            token_endpoint: &token_endpoint,
            policy: &self.config.assertions,
            directory: self.directory,
            key_sets: self.key_sets,
        };
        authenticate(&op.client_id, &op.auth, client, &cx).await
    }

    /// Introspection (RFC 7662 §2): the caller must hold the introspection permission
    /// (§2.1: the endpoint requires authorization; otherwise `access_denied`, 403).
    /// The answer is `{"active": false}` for anything that is not an active token of
    /// this server — malformed, signed by an unknown, unpublished or revoked key,
    /// another issuer's, expired, revoked (its client's not-before, its `jti`), or of
    /// a client that is gone or disabled — and otherwise the token's claims with
    /// `"active": true` and `"token_type": "Bearer"` (§2.2).
    ///
    /// # Errors
    /// `invalid_client`, `access_denied`, or `server_error` when a store fails.
    pub async fn introspect(
        &self,
        op: &TokenOperation,
        published: &[SigningKey],
        now: u64,
    ) -> Result<Value, OAuthError> {
        let caller = self.directory.client(&op.client_id).await?;
        let authenticated = self.caller(op, caller.as_ref(), now).await?;
        if !authenticated.client.introspect {
            return Err(OAuthError::AccessDenied(
                "this client may not introspect tokens".into(),
            ));
        }
        let Ok(token) = verify_access_token(op.token.expose(), published, &self.config.issuer, now)
        else {
            return Ok(inactive());
        };
        if !self.in_force(&token).await? {
            return Ok(inactive());
        }
        let mut answer = Map::new();
        answer.insert("active".into(), Value::Bool(true));
        answer.insert("token_type".into(), Value::from("Bearer"));
        for (name, value) in token.claims {
            answer.entry(name).or_insert(value);
        }
        Ok(Value::Object(answer))
    }

    /// Whether a verified token is still in force: its client exists and is active,
    /// and no revocation covers it.
    async fn in_force(&self, token: &VerifiedToken) -> Result<bool, OAuthError> {
        let Some(client_id) = token.client_id().map(ClientId::new) else {
            return Ok(false);
        };
        let (client, revoked) = futures_util::future::join(
            self.directory.client(&client_id),
            self.revocations
                .is_revoked(&client_id, token.jti(), token.iat()),
        )
        .await;
        let active = client?.is_some_and(|c| {
            c.status == ClientStatus::Active && c.not_before.is_none_or(|nb| token.iat() >= nb)
        });
        Ok(active && !revoked?)
    }

    /// Revocation (RFC 7009 §2): a client revokes a token issued to it. A token that
    /// is not an active token of this server needs no revoking and is answered like a
    /// revoked one (§2.2: "invalid tokens do not cause an error response"); another
    /// client's token is refused with `unauthorized_client` (§2.1). Revoking records
    /// the `jti` until the token's `exp` and bumps the client's revocation epoch first,
    /// so a token kept for reuse is never handed out again.
    ///
    /// # Errors
    /// `invalid_client`, `unauthorized_client`, or `server_error` when a store fails
    /// (the caller retries; revoking twice is harmless).
    pub async fn revoke(
        &self,
        op: &TokenOperation,
        published: &[SigningKey],
        now: u64,
    ) -> Result<(), OAuthError> {
        let caller = self.directory.client(&op.client_id).await?;
        let authenticated = self.caller(op, caller.as_ref(), now).await?;
        let Ok(token) = verify_access_token(op.token.expose(), published, &self.config.issuer, now)
        else {
            return Ok(());
        };
        if token.client_id() != Some(authenticated.client.id.as_str()) {
            return Err(OAuthError::UnauthorizedClient(
                "the token was not issued to this client".into(),
            ));
        }
        let Some(jti) = token.jti() else {
            return Ok(());
        };
        let client_id = authenticated.client.id.clone();
        self.directory.bump_revocation_epoch(&client_id).await?;
        let revocation = Revocation::Token {
            jti: jti.to_owned(),
            client_id,
            expires_at: token.exp(),
        };
        self.revocations.revoke(&revocation, now).await?;
        tracing::info!(client_id = %authenticated.client.id, "token revoked by its client");
        Ok(())
    }
}

fn inactive() -> Value {
    serde_json::json!({ "active": false })
}
