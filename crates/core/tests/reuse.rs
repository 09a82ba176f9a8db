//! Domain tests of token reuse: a repeat request gets the cached token with
//! the reduced `expires_in` (RFC 6749 §5.1) and nothing is signed; every change that
//! must invalidate it (grant, client status, secrets/version, active key, API) signs
//! afresh; a claims hook turns reuse off unless the API opts in. Fakes, fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::error::OAuthError;
use m2m_core::model::{ClientStatus, Reuse, DEFAULT_TOKEN_LIFETIME};
use m2m_core::ports::{ClaimsHook, NoHook, Signer};
use m2m_core::reuse::ReuseKey;
use m2m_core::testing::fixtures::{
    self, API, API_SCOPES, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, ISSUER, NOW,
};
use m2m_core::testing::{Failure, FakeHook, InMemoryDirectory, SoftwareSigner};
use m2m_core::types::{Audience, ClientId, ClientSecret, ScopeSet};
use m2m_core::{issue_token, parse_token_request, IssuerConfig, TokenResponse};
use serde_json::{json, Value};

fn config() -> IssuerConfig {
    m2m_testkit::issuer_config(ISSUER)
}

fn body(secret: &str, extra: &str) -> String {
    format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com{extra}")
}

async fn issue_at<S: Signer, H: ClaimsHook>(
    dir: &InMemoryDirectory,
    signer: &S,
    hook: Option<&H>,
    now: u64,
    body: &str,
) -> Result<TokenResponse, OAuthError> {
    let req = parse_token_request(
        Some("application/x-www-form-urlencoded"),
        None,
        body.as_bytes(),
    )?;
    issue_token(
        &req,
        now,
        &config(),
        dir,
        signer,
        hook,
        &m2m_core::ports::NoKeySets,
    )
    .await
}

async fn issue(
    dir: &InMemoryDirectory,
    signer: &SoftwareSigner,
    now: u64,
) -> Result<TokenResponse, OAuthError> {
    issue_at(dir, signer, None::<&NoHook>, now, &body(CLIENT_SECRET, "")).await
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn client_id() -> ClientId {
    ClientId::new(CLIENT_ID)
}

fn reuse_key(secret: &str, scopes: Option<&ScopeSet>) -> ReuseKey {
    ReuseKey::new(
        &client_id(),
        &ClientSecret::new(secret),
        &Audience::new(API),
        scopes,
    )
}

/// First request signs and keeps the token; returns it.
async fn primed(dir: &InMemoryDirectory, signer: &SoftwareSigner) -> TokenResponse {
    let first = issue(dir, signer, NOW).await.unwrap();
    assert_eq!(signer.sign_count(), 1);
    assert_eq!(dir.reuse_store_count(), 1);
    first
}

#[tokio::test]
async fn repeat_request_reused_without_signing() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    assert_eq!(first.expires_in, DEFAULT_TOKEN_LIFETIME);
    let again = issue(&dir, &signer, NOW + 600).await.unwrap();
    assert_eq!(again.access_token, first.access_token);
    assert_eq!(again.expires_in, DEFAULT_TOKEN_LIFETIME - 600);
    assert_eq!(again.scope, first.scope);
    assert_eq!(signer.sign_count(), 1);
    assert_eq!(dir.reuse_store_count(), 1);
}

#[tokio::test]
async fn just_over_half_left_reused() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    let again = issue(&dir, &signer, NOW + 1799).await.unwrap();
    assert_eq!(again.access_token, first.access_token);
    assert_eq!(again.expires_in, 1801);
    assert_eq!(signer.sign_count(), 1);
}

#[tokio::test]
async fn half_lifetime_left_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    let again = issue(&dir, &signer, NOW + 1800).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(again.expires_in, DEFAULT_TOKEN_LIFETIME);
    assert_eq!(signer.sign_count(), 2);
    // The fresh token replaced the old one in the cache.
    let third = issue(&dir, &signer, NOW + 1801).await.unwrap();
    assert_eq!(third.access_token, again.access_token);
    assert_eq!(third.expires_in, DEFAULT_TOKEN_LIFETIME - 1);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn configured_threshold_respected() {
    let dir = fixtures::directory();
    dir.put_api(m2m_core::model::Api {
        reuse: Reuse::On {
            min_remaining_pct: 90,
            with_hook: false,
        },
        ..fixtures::api(API, API_SCOPES)
    });
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    assert_eq!(
        issue(&dir, &signer, NOW + 359).await.unwrap().access_token,
        first.access_token
    );
    assert_ne!(
        issue(&dir, &signer, NOW + 360).await.unwrap().access_token,
        first.access_token
    );
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn reuse_off_signed_afresh() {
    let dir = fixtures::directory_without_reuse();
    let signer = SoftwareSigner::es256();
    let a = issue(&dir, &signer, NOW).await.unwrap();
    let b = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(a.access_token, b.access_token);
    assert_eq!(signer.sign_count(), 2);
    assert_eq!(dir.reuse_store_count(), 0);
}

#[tokio::test]
async fn changed_grant_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    // Narrowed grant, client version untouched: the fingerprint still changes.
    dir.put_grant(fixtures::grant(CLIENT_ID, API, &["read:orders"]));
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(again.scope, "read:orders");
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn removed_grant_access_denied_despite_cache() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    primed(&dir, &signer).await;
    dir.remove_grant(&client_id(), &Audience::new(API));
    let r = issue(&dir, &signer, NOW + 1).await;
    assert!(matches!(r, Err(OAuthError::AccessDenied(_))), "{r:?}");
}

#[tokio::test]
async fn revoked_scope_invalid_scope_despite_cache() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let extra = "&scope=write%3Aorders";
    issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW,
        &body(CLIENT_SECRET, extra),
    )
    .await
    .unwrap();
    dir.put_grant(fixtures::grant(CLIENT_ID, API, &["read:orders"]));
    let r = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 1,
        &body(CLIENT_SECRET, extra),
    )
    .await;
    assert!(matches!(r, Err(OAuthError::InvalidScope(_))), "{r:?}");
}

#[tokio::test]
async fn disabled_client_invalid_client_despite_cache() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    primed(&dir, &signer).await;
    dir.update_client(&client_id(), |c| c.status = ClientStatus::Disabled);
    let r = issue(&dir, &signer, NOW + 1).await;
    assert!(matches!(r, Err(OAuthError::InvalidClient)), "{r:?}");
    assert_eq!(signer.sign_count(), 1);
}

#[tokio::test]
async fn reenabled_client_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    // Disabled then enabled again by the operator: two version bumps.
    dir.update_client(&client_id(), |c| c.version += 2);
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn wrong_secret_invalid_client_despite_cache() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    primed(&dir, &signer).await;
    let r = issue_at(&dir, &signer, None::<&NoHook>, NOW + 1, &body("wrong", "")).await;
    assert!(matches!(r, Err(OAuthError::InvalidClient)), "{r:?}");
}

#[tokio::test]
async fn rotated_secret_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    // `m2m-admin secret rotate`: a second secret and a version bump.
    dir.update_client(&client_id(), |c| {
        c.secrets.push(fixtures::stored_secret("m2m_sk_new"));
        c.version += 1;
    });
    let old = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(old.access_token, first.access_token);
    let new = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 2,
        &body("m2m_sk_new", ""),
    )
    .await
    .unwrap();
    // Each secret has its own entry, derived from it: the new secret signs its own.
    assert_ne!(new.access_token, old.access_token);
    assert_eq!(signer.sign_count(), 3);
}

#[tokio::test]
async fn client_version_bump_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    dir.update_client(&client_id(), |c| c.version += 1);
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn recorded_secret_use_still_reused() {
    // `last_used_at` changes on the first request; it must not invalidate the cache.
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    assert_eq!(dir.recorded_uses().len(), 1);
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_eq!(again.access_token, first.access_token);
}

#[tokio::test]
async fn secret_use_recorded_hourly_on_hits() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    dir.put_api(m2m_core::model::Api {
        token_lifetime: 86_400,
        ..fixtures::api(API, API_SCOPES)
    });
    primed(&dir, &signer).await;
    issue(&dir, &signer, NOW + 60).await.unwrap();
    issue(&dir, &signer, NOW + 3600).await.unwrap();
    assert_eq!(signer.sign_count(), 1);
    let times: Vec<u64> = dir.recorded_uses().iter().map(|r| r.2).collect();
    assert_eq!(times, vec![NOW, NOW + 3600]);
}

#[tokio::test]
async fn activated_key_signed_afresh() {
    let dir = fixtures::directory();
    let old_key = SoftwareSigner::es256();
    let first = primed(&dir, &old_key).await;
    // Another key becomes active (a different kid).
    let new_key = SoftwareSigner::es256_fresh();
    assert_ne!(new_key.kid(), old_key.kid());
    let again = issue(&dir, &new_key, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(
        header_of(&again.access_token)["kid"],
        new_key.kid().as_str()
    );
    assert_eq!(new_key.sign_count(), 1);
}

#[tokio::test]
async fn changed_api_lifetime_signed_afresh() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    dir.put_api(m2m_core::model::Api {
        token_lifetime: 600,
        ..fixtures::api(API, API_SCOPES)
    });
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(again.expires_in, 600);
}

#[tokio::test]
async fn other_scope_request_separate_entry() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let all = primed(&dir, &signer).await;
    let read = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 1,
        &body(CLIENT_SECRET, "&scope=read%3Aorders"),
    )
    .await
    .unwrap();
    assert_ne!(read.access_token, all.access_token);
    assert_eq!(read.scope, "read:orders");
    // Scope order does not matter: the key is the sorted set.
    let both = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 2,
        &body(CLIENT_SECRET, "&scope=write%3Aorders+read%3Aorders"),
    )
    .await
    .unwrap();
    let both_again = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 3,
        &body(CLIENT_SECRET, "&scope=read%3Aorders+write%3Aorders"),
    )
    .await
    .unwrap();
    assert_eq!(both.access_token, both_again.access_token);
    assert_eq!(signer.sign_count(), 3);
    let key = reuse_key(CLIENT_SECRET, Some(&fixtures::scopes(GRANTED_SCOPES)));
    assert!(dir.reuse_entry(&client_id(), &key).is_some());
}

#[tokio::test]
async fn hook_configured_reuse_off_by_default() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let hook = FakeHook::claims(json!({"plan": "gold"}));
    let b = body(CLIENT_SECRET, "");
    let a = issue_at(&dir, &signer, Some(&hook), NOW, &b).await.unwrap();
    let c = issue_at(&dir, &signer, Some(&hook), NOW + 1, &b)
        .await
        .unwrap();
    assert_ne!(a.access_token, c.access_token);
    assert_eq!(hook.call_count(), 2);
    assert_eq!(signer.sign_count(), 2);
    assert_eq!(dir.reuse_store_count(), 0);
}

#[tokio::test]
async fn hook_opted_in_reused_without_hook_call() {
    let dir = fixtures::directory();
    dir.put_api(m2m_core::model::Api {
        reuse: Reuse::On {
            min_remaining_pct: 50,
            with_hook: true,
        },
        ..fixtures::api(API, API_SCOPES)
    });
    let signer = SoftwareSigner::es256();
    let hook = FakeHook::narrow(&["read:orders"]);
    let b = body(CLIENT_SECRET, "");
    let a = issue_at(&dir, &signer, Some(&hook), NOW, &b).await.unwrap();
    let c = issue_at(&dir, &signer, Some(&hook), NOW + 1, &b)
        .await
        .unwrap();
    assert_eq!(a.access_token, c.access_token);
    // The hook-narrowed scope is what the cached response answers.
    assert_eq!(c.scope, "read:orders");
    assert_eq!(hook.call_count(), 1);
    assert_eq!(signer.sign_count(), 1);
}

#[tokio::test]
async fn hook_removed_signed_afresh() {
    // A token signed with a hook's claims is not handed out once the hook is gone.
    let dir = fixtures::directory();
    dir.put_api(m2m_core::model::Api {
        reuse: Reuse::On {
            min_remaining_pct: 50,
            with_hook: true,
        },
        ..fixtures::api(API, API_SCOPES)
    });
    let signer = SoftwareSigner::es256();
    let hook = FakeHook::claims(json!({"plan": "gold"}));
    let b = body(CLIENT_SECRET, "");
    let a = issue_at(&dir, &signer, Some(&hook), NOW, &b).await.unwrap();
    let c = issue_at(&dir, &signer, None::<&NoHook>, NOW + 1, &b)
        .await
        .unwrap();
    assert_ne!(a.access_token, c.access_token);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn store_failure_still_issues() {
    let dir = fixtures::directory();
    dir.fail_store_reuse_with(Some(Failure::error("put failed (injected)")));
    let signer = SoftwareSigner::es256();
    let a = issue(&dir, &signer, NOW).await.unwrap();
    assert_eq!(a.expires_in, DEFAULT_TOKEN_LIFETIME);
    let b = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(a.access_token, b.access_token);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn cached_entry_has_token_expiry() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    let key = reuse_key(CLIENT_SECRET, None);
    let entry = dir.reuse_entry(&client_id(), &key).unwrap();
    assert_eq!(entry.access_token, first.access_token);
    assert_eq!(entry.issued_at, NOW);
    assert_eq!(entry.expires_at, NOW + DEFAULT_TOKEN_LIFETIME);
    assert_eq!(entry.scope, GRANTED_SCOPES.join(" "));
}

#[tokio::test]
async fn signer_failure_nothing_cached() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    signer.fail(false);
    let r = issue(&dir, &signer, NOW).await;
    assert!(matches!(r, Err(OAuthError::ServerError(_))), "{r:?}");
    assert_eq!(dir.reuse_store_count(), 0);
}

#[tokio::test]
async fn stored_item_holds_no_token() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    let sealed = dir.sealed_entries();
    assert_eq!(sealed.len(), 1);
    let raw = String::from_utf8_lossy(&sealed[0].ciphertext).into_owned();
    let payload = first.access_token.split('.').nth(1).unwrap();
    assert!(!raw.contains("eyJ") && !raw.contains(payload));
    assert!(!format!("{:?}", sealed[0]).contains("eyJ"));
}

#[tokio::test]
async fn rotated_secret_entry_unreachable() {
    // A client with two secrets: the entry kept for one is neither found nor opened
    // by the other, so revoking a secret strands its entries.
    let dir = fixtures::directory();
    dir.update_client(&client_id(), |c| {
        c.secrets.push(fixtures::stored_secret("m2m_sk_second"));
        c.version += 1;
    });
    let signer = SoftwareSigner::es256();
    let a = issue(&dir, &signer, NOW).await.unwrap();
    let b = issue_at(
        &dir,
        &signer,
        None::<&NoHook>,
        NOW + 1,
        &body("m2m_sk_second", ""),
    )
    .await
    .unwrap();
    assert_ne!(a.access_token, b.access_token);
    assert_eq!(signer.sign_count(), 2);
    assert!(reuse_key("m2m_sk_second", None)
        .open(
            &client_id(),
            &dir.sealed_entry(&client_id(), &reuse_key(CLIENT_SECRET, None))
                .unwrap()
        )
        .is_none());
}

#[tokio::test]
async fn tampered_entry_signed_afresh() {
    // Moving an item's expiry (or any bound attribute) makes it unopenable: a miss.
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    let key = reuse_key(CLIENT_SECRET, None);
    let mut sealed = dir.sealed_entry(&client_id(), &key).unwrap();
    sealed.expires_at += 86_400;
    dir.put_sealed(&client_id(), &key, sealed);
    let again = issue(&dir, &signer, NOW + 1).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    assert_eq!(again.expires_in, DEFAULT_TOKEN_LIFETIME);
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn hook_identity_change_signed_afresh() {
    let dir = fixtures::directory();
    dir.put_api(m2m_core::model::Api {
        reuse: Reuse::On {
            min_remaining_pct: 50,
            with_hook: true,
        },
        ..fixtures::api(API, API_SCOPES)
    });
    let signer = SoftwareSigner::es256();
    let b = body(CLIENT_SECRET, "");
    let v1 = FakeHook::default().with_identity("hook-a\n1");
    let a = issue_at(&dir, &signer, Some(&v1), NOW, &b).await.unwrap();
    let same = issue_at(&dir, &signer, Some(&v1), NOW + 1, &b)
        .await
        .unwrap();
    assert_eq!(a.access_token, same.access_token);
    // The operator bumps the epoch, or points at another function: re-signed.
    let v2 = FakeHook::default().with_identity("hook-a\n2");
    let c = issue_at(&dir, &signer, Some(&v2), NOW + 2, &b)
        .await
        .unwrap();
    assert_ne!(a.access_token, c.access_token);
    let other = FakeHook::default().with_identity("hook-b\n2");
    let d = issue_at(&dir, &signer, Some(&other), NOW + 3, &b)
        .await
        .unwrap();
    assert_ne!(c.access_token, d.access_token);
    assert_eq!(signer.sign_count(), 3);
}

#[tokio::test]
async fn a_revocation_by_jti_takes_cached_tokens_out_of_service() {
    use m2m_core::ports::Directory as _;
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    // What the revocation endpoint and the operator do with every jti revocation.
    dir.bump_revocation_epoch(&client_id()).await.unwrap();
    let again = issue(&dir, &signer, NOW + 10).await.unwrap();
    assert_ne!(
        again.access_token, first.access_token,
        "re-signed, not reused"
    );
    assert_eq!(signer.sign_count(), 2);
}

#[tokio::test]
async fn a_token_issued_before_the_clients_not_before_is_never_reused() {
    let dir = fixtures::directory();
    let signer = SoftwareSigner::es256();
    let first = primed(&dir, &signer).await;
    // Only not_before moves (an operator's revoke-tokens also bumps the version;
    // the cache must refuse even without that).
    dir.update_client(&client_id(), |c| c.not_before = Some(NOW + 5));
    let mut cached = dir.sealed_entries();
    assert_eq!(cached.len(), 1);
    let _ = cached.pop();
    let again = issue(&dir, &signer, NOW + 10).await.unwrap();
    assert_ne!(again.access_token, first.access_token);
    // A token issued after not_before is reused again.
    let third = issue(&dir, &signer, NOW + 20).await.unwrap();
    assert_eq!(third.access_token, again.access_token);
}
