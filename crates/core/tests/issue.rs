//! Domain tests of the whole issuance: every row of DESIGN.md's error table, with the
//! exact error code and HTTP status, plus the listed edge cases. In-memory fakes and
//! a fixed clock; no AWS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::basic::encode_basic;
use m2m_core::error::OAuthError;
use m2m_core::http_response::token_http_response;
use m2m_core::model::{ClientStatus, DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME};
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, DAY, ISSUER, NOW};
use m2m_core::testing::{FakeHook, InMemoryDirectory, NoopSigner, SoftwareSigner};
use m2m_core::types::{Audience, ClientId};
use m2m_core::{issue_token, parse_token_request, IssuerConfig, TokenResponse};
use serde_json::{json, Value};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn config() -> IssuerConfig {
    m2m_testkit::issuer_config(ISSUER)
}

fn form(extra: &str) -> String {
    format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&audience=https%3A%2F%2Fapi.example.com{extra}")
}

/// Parses and issues with NoopSigner and no hook.
async fn issue_with(
    dir: &InMemoryDirectory,
    body: &str,
    auth: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let req = parse_token_request(FORM, auth, body.as_bytes())?;
    issue_token(
        &req,
        NOW,
        &config(),
        dir,
        &NoopSigner::default(),
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn assert_error(outcome: Result<TokenResponse, OAuthError>, code: &str, status: u16) {
    let response = token_http_response(&outcome);
    assert_eq!(response.status().as_u16(), status, "{outcome:?}");
    let body: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(
        response.headers().contains_key("www-authenticate"),
        status == 401
    );
}

#[tokio::test]
async fn valid_request_issues_token() {
    let dir = fixtures::directory();
    let t = issue_with(&dir, &form(""), None).await.unwrap();
    assert_eq!(t.expires_in, DEFAULT_TOKEN_LIFETIME);
    assert_eq!(t.scope, "read:orders write:orders");
    let c = claims_of(&t.access_token);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], CLIENT_ID);
    assert_eq!(c["client_id"], CLIENT_ID);
    assert_eq!(c["aud"], API);
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + DEFAULT_TOKEN_LIFETIME);
    assert_eq!(c["scope"], "read:orders write:orders");
    assert!(c["jti"].as_str().unwrap().len() >= 22);
    let response = token_http_response(&Ok::<_, OAuthError>(t));
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
}

// ---- DESIGN.md error table, row by row ----

#[tokio::test]
async fn malformed_body_invalid_request_400() {
    let r =
        parse_token_request(Some("application/json"), None, b"{not json").map(|_| unreachable!());
    assert_error(r, "invalid_request", 400);
}

#[tokio::test]
async fn unsupported_content_type_invalid_request_400() {
    let r =
        parse_token_request(Some("text/plain"), None, form("").as_bytes()).map(|_| unreachable!());
    assert_error(r, "invalid_request", 400);
}

#[tokio::test]
async fn repeated_parameter_invalid_request_400() {
    let dir = fixtures::directory();
    assert_error(
        issue_with(&dir, &form("&scope=a&scope=b"), None).await,
        "invalid_request",
        400,
    );
}

#[tokio::test]
async fn missing_grant_type_invalid_request_400() {
    let dir = fixtures::directory();
    let body = form("").replace("grant_type=client_credentials&", "");
    assert_error(issue_with(&dir, &body, None).await, "invalid_request", 400);
}

#[tokio::test]
async fn missing_audience_without_default_invalid_request_400() {
    let dir = fixtures::directory();
    let body = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    assert_error(issue_with(&dir, &body, None).await, "invalid_request", 400);
}

#[tokio::test]
async fn missing_audience_with_default_uses_default() {
    let dir = fixtures::directory();
    let body = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    let req = parse_token_request(FORM, None, body.as_bytes()).unwrap();
    let cfg = IssuerConfig {
        default_audience: Some(Audience::new(API)),
        ..config()
    };
    let t = issue_token(
        &req,
        NOW,
        &cfg,
        &dir,
        &NoopSigner::default(),
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
    .unwrap();
    assert_eq!(claims_of(&t.access_token)["aud"], API);
}

#[tokio::test]
async fn unknown_client_invalid_client_401() {
    let dir = fixtures::directory();
    let body = form("").replace(CLIENT_ID, "nobody");
    assert_error(issue_with(&dir, &body, None).await, "invalid_client", 401);
}

#[tokio::test]
async fn wrong_secret_invalid_client_401() {
    let dir = fixtures::directory();
    let body = form("").replace(CLIENT_SECRET, "m2m_sk_wrong");
    assert_error(issue_with(&dir, &body, None).await, "invalid_client", 401);
}

#[tokio::test]
async fn unknown_client_and_wrong_secret_same_response() {
    let dir = fixtures::directory();
    let a =
        token_http_response(&issue_with(&dir, &form("").replace(CLIENT_ID, "nobody"), None).await);
    let b =
        token_http_response(&issue_with(&dir, &form("").replace(CLIENT_SECRET, "x"), None).await);
    assert_eq!(a.status(), b.status());
    assert_eq!(a.body(), b.body());
    assert_eq!(a.headers(), b.headers());
}

#[tokio::test]
async fn expired_secret_invalid_client_401() {
    let dir = fixtures::directory();
    dir.put_client(fixtures::client_with_secrets(
        CLIENT_ID,
        vec![fixtures::expiring_secret(CLIENT_SECRET, NOW - 1)],
    ));
    assert_error(
        issue_with(&dir, &form(""), None).await,
        "invalid_client",
        401,
    );
}

#[tokio::test]
async fn expired_secret_beside_valid_one_only_valid_works() {
    let dir = fixtures::directory();
    dir.put_client(fixtures::client_with_secrets(
        CLIENT_ID,
        vec![
            fixtures::expiring_secret("m2m_sk_old", NOW - 1),
            fixtures::expiring_secret(CLIENT_SECRET, NOW + DAY),
        ],
    ));
    assert!(issue_with(&dir, &form(""), None).await.is_ok());
    let old = form("").replace(CLIENT_SECRET, "m2m_sk_old");
    assert_error(issue_with(&dir, &old, None).await, "invalid_client", 401);
}

#[tokio::test]
async fn disabled_client_invalid_client_401() {
    let dir = fixtures::directory();
    dir.update_client(&ClientId::new(CLIENT_ID), |c| {
        c.status = ClientStatus::Disabled
    });
    assert_error(
        issue_with(&dir, &form(""), None).await,
        "invalid_client",
        401,
    );
}

#[tokio::test]
async fn both_auth_methods_invalid_request_400() {
    let dir = fixtures::directory();
    let basic = encode_basic(CLIENT_ID, CLIENT_SECRET);
    assert_error(
        issue_with(&dir, &form(""), Some(&basic)).await,
        "invalid_request",
        400,
    );
}

#[tokio::test]
async fn no_auth_method_invalid_client_401() {
    let dir = fixtures::directory();
    let body = "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com";
    assert_error(issue_with(&dir, body, None).await, "invalid_client", 401);
}

#[tokio::test]
async fn password_grant_unsupported_grant_type_400() {
    let dir = fixtures::directory();
    let body = form("").replace("client_credentials", "password");
    let r = issue_with(&dir, &body, None).await;
    let response = token_http_response(&r);
    let b: Value = serde_json::from_str(response.body()).unwrap();
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("client_credentials"));
    assert_error(r, "unsupported_grant_type", 400);
}

#[tokio::test]
async fn unknown_audience_invalid_target_400() {
    let dir = fixtures::directory();
    let body = form("").replace("api.example.com", "other.example.com");
    assert_error(issue_with(&dir, &body, None).await, "invalid_target", 400);
}

#[tokio::test]
async fn no_grant_for_audience_access_denied_403() {
    let dir = fixtures::directory().with_api(fixtures::api("https://other.example.com", &["x"]));
    let body = form("").replace("api.example.com", "other.example.com");
    assert_error(issue_with(&dir, &body, None).await, "access_denied", 403);
}

#[tokio::test]
async fn hook_denied_access_denied_403() {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form("").as_bytes()).unwrap();
    let hook = FakeHook::deny("customer suspended");
    let signer = SoftwareSigner::rs256();
    let r = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &signer,
        Some(&hook),
        &m2m_core::ports::NoKeySets,
    )
    .await;
    let response = token_http_response(&r);
    assert!(response.body().contains("customer suspended"));
    assert_error(r, "access_denied", 403);
    assert_eq!(signer.sign_count(), 0);
}

#[tokio::test]
async fn scope_not_granted_invalid_scope_400() {
    let dir = fixtures::directory();
    assert_error(
        issue_with(&dir, &form("&scope=admin"), None).await,
        "invalid_scope",
        400,
    );
}

#[tokio::test]
async fn scope_not_defined_by_api_invalid_scope_400() {
    let dir = fixtures::directory();
    assert_error(
        issue_with(&dir, &form("&scope=delete:everything"), None).await,
        "invalid_scope",
        400,
    );
}

#[tokio::test]
async fn store_failure_server_error_500() {
    let dir = fixtures::directory();
    dir.fail(false);
    let r = issue_with(&dir, &form(""), None).await;
    let response = token_http_response(&r);
    assert!(!response.headers().contains_key("retry-after"));
    assert_error(r, "server_error", 500);
}

#[tokio::test]
async fn store_throttled_server_error_503_with_retry_after() {
    let dir = fixtures::directory();
    dir.fail(true);
    let r = issue_with(&dir, &form(""), None).await;
    let response = token_http_response(&r);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_error(r, "server_error", 503);
}

#[tokio::test]
async fn signer_failure_server_error_500() {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form("").as_bytes()).unwrap();
    let signer = SoftwareSigner::rs256();
    signer.fail(false);
    let r = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &signer,
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await;
    assert_error(r, "server_error", 500);
}

#[tokio::test]
async fn hook_failure_server_error_500_no_token() {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form("").as_bytes()).unwrap();
    let signer = SoftwareSigner::rs256();
    for hook in [
        FakeHook::error("boom"),
        FakeHook::timeout(),
        FakeHook::raw_json("{\"claims\":"),
    ] {
        let r = issue_token(
            &req,
            NOW,
            &config(),
            &dir,
            &signer,
            Some(&hook),
            &m2m_core::ports::NoKeySets,
        )
        .await;
        assert_error(r, "server_error", 500);
    }
    assert_eq!(signer.sign_count(), 0);
}

#[tokio::test]
async fn server_error_body_hides_cause() {
    let dir = fixtures::directory();
    dir.fail_with(Some(m2m_core::testing::Failure::error(
        "table m2m-prod arn:aws:secret-detail",
    )));
    let r = issue_with(&dir, &form(""), None).await;
    let response = token_http_response(&r);
    assert!(!response.body().contains("arn:aws"));
    assert!(!response.body().contains("m2m-prod"));
}

// ---- edge cases ----

#[tokio::test]
async fn basic_secret_with_special_characters_authenticates() {
    for secret in ["a:b%c+d e", "caf\u{e9}:\u{1F511}%3A"] {
        let dir = fixtures::directory();
        dir.put_client(fixtures::client(CLIENT_ID, secret));
        let basic = encode_basic(CLIENT_ID, secret);
        let body = "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com";
        assert!(
            issue_with(&dir, body, Some(&basic)).await.is_ok(),
            "{secret}"
        );
    }
}

#[tokio::test]
async fn json_and_form_bodies_same_token() {
    let dir = fixtures::directory_without_reuse();
    let json_body = json!({
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": API,
        "scope": "read:orders",
    })
    .to_string();
    let req = parse_token_request(Some("application/json"), None, json_body.as_bytes()).unwrap();
    let a = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &NoopSigner::default(),
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
    .unwrap();
    let b = issue_with(&dir, &form("&scope=read%3Aorders"), None)
        .await
        .unwrap();
    let (mut ca, mut cb) = (claims_of(&a.access_token), claims_of(&b.access_token));
    assert_ne!(ca["jti"], cb["jti"]);
    ca["jti"] = Value::Null;
    cb["jti"] = Value::Null;
    assert_eq!(ca, cb);
    assert_eq!(a.scope, b.scope);
    assert_eq!(a.expires_in, b.expires_in);
}

#[tokio::test]
async fn requested_subset_scope_narrowed() {
    let dir = fixtures::directory();
    let t = issue_with(&dir, &form("&scope=read%3Aorders"), None)
        .await
        .unwrap();
    assert_eq!(t.scope, "read:orders");
    assert_eq!(claims_of(&t.access_token)["scope"], "read:orders");
}

#[tokio::test]
async fn lifetime_capped_at_maximum() {
    let dir = fixtures::directory();
    let mut api = fixtures::api(API, fixtures::API_SCOPES);
    api.token_lifetime = 10 * DAY;
    dir.put_api(api);
    let t = issue_with(&dir, &form(""), None).await.unwrap();
    assert_eq!(t.expires_in, MAX_TOKEN_LIFETIME);
    assert_eq!(claims_of(&t.access_token)["exp"], NOW + MAX_TOKEN_LIFETIME);
}

#[tokio::test]
async fn org_client_carries_org_id() {
    let dir = fixtures::directory();
    dir.put_client(fixtures::client_in_org(
        CLIENT_ID,
        CLIENT_SECRET,
        "org_acme",
    ));
    let t = issue_with(&dir, &form(""), None).await.unwrap();
    assert_eq!(claims_of(&t.access_token)["org_id"], "org_acme");
}

#[tokio::test]
async fn oversized_signing_input_server_error_500() {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form("").as_bytes()).unwrap();
    let big = "x".repeat(4096);
    let hook = FakeHook::claims(json!({ "https://a.example/blob": big }));
    let signer = SoftwareSigner::rs256();
    let r = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &signer,
        Some(&hook),
        &m2m_core::ports::NoKeySets,
    )
    .await;
    assert_error(r, "server_error", 500);
    assert_eq!(signer.sign_count(), 0);
}

#[tokio::test]
async fn jti_unique_across_tokens() {
    let dir = fixtures::directory_without_reuse();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let t = issue_with(&dir, &form(""), None).await.unwrap();
        assert!(seen.insert(
            claims_of(&t.access_token)["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        ));
    }
}

#[tokio::test]
async fn secret_use_recorded_at_most_hourly() {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form("").as_bytes()).unwrap();
    let signer = NoopSigner::default();
    issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &signer,
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
    .unwrap();
    let first = dir.client(&ClientId::new(CLIENT_ID)).unwrap().secrets[0].last_used_at;
    assert_eq!(first, Some(NOW));
    issue_token(
        &req,
        NOW + 60,
        &config(),
        &dir,
        &signer,
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
    .unwrap();
    let second = dir.client(&ClientId::new(CLIENT_ID)).unwrap().secrets[0].last_used_at;
    assert_eq!(second, Some(NOW));
    issue_token(
        &req,
        NOW + 3600,
        &config(),
        &dir,
        &signer,
        None::<&NoHook>,
        &m2m_core::ports::NoKeySets,
    )
    .await
    .unwrap();
    let third = dir.client(&ClientId::new(CLIENT_ID)).unwrap().secrets[0].last_used_at;
    assert_eq!(third, Some(NOW + 3600));
}

// ---- the claims hook, every outcome ----

async fn with_hook(hook: &FakeHook, extra: &str) -> (Result<TokenResponse, OAuthError>, usize) {
    let dir = fixtures::directory();
    let req = parse_token_request(FORM, None, form(extra).as_bytes()).unwrap();
    let signer = SoftwareSigner::es256();
    let before = signer.sign_count();
    let r = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &signer,
        Some(hook),
        &m2m_core::ports::NoKeySets,
    )
    .await;
    (r, signer.sign_count() - before)
}

#[tokio::test]
async fn hook_claims_added() {
    let hook = FakeHook::claims(json!({"https://example.com/plan": "gold"}));
    let (r, signed) = with_hook(&hook, "").await;
    assert_eq!(signed, 1);
    let c = claims_of(&r.unwrap().access_token);
    assert_eq!(c["https://example.com/plan"], "gold");
    let seen = hook.last_request().unwrap();
    assert_eq!(seen.version, "1");
    assert_eq!(seen.client.id, CLIENT_ID);
    assert_eq!(seen.audience, API);
    assert_eq!(seen.scopes, vec!["read:orders", "write:orders"]);
}

#[tokio::test]
async fn hook_reserved_claim_dropped() {
    let hook = FakeHook::claims(
        json!({"sub": "admin", "iss": "evil", "exp": 1, "scope": "admin", "tier": 2}),
    );
    let (r, _) = with_hook(&hook, "").await;
    let c = claims_of(&r.unwrap().access_token);
    assert_eq!(c["sub"], CLIENT_ID);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["exp"], NOW + DEFAULT_TOKEN_LIFETIME);
    assert_eq!(c["scope"], "read:orders write:orders");
    // A plain name is not collision-resistant (RFC 7519 §4.2) and not allowlisted.
    assert!(c.get("tier").is_none());
}

#[tokio::test]
async fn hook_authority_claims_dropped() {
    // Claims resource servers read as authority never come from the hook, allowlist
    // or not; an allowlisted plain name does.
    let hook = FakeHook::claims(json!({
        "scp": ["admin"], "permissions": ["*"], "roles": ["admin"], "groups": ["root"],
        "entitlements": ["all"], "cnf": {"jkt": "x"}, "act": {"sub": "root"},
        "may_act": {"sub": "root"}, "typ": "JWT", "auth_time": 1, "acr": "3", "amr": ["mfa"],
        "tier": 2,
    }))
    .with_allowed_claims(&["tier", "scp", "roles"]);
    let (r, _) = with_hook(&hook, "").await;
    let c = claims_of(&r.unwrap().access_token);
    for name in [
        "scp",
        "permissions",
        "roles",
        "groups",
        "entitlements",
        "cnf",
        "act",
        "may_act",
        "typ",
        "auth_time",
        "acr",
        "amr",
    ] {
        assert!(c.get(name).is_none(), "{name} set by the hook");
    }
    assert_eq!(c["tier"], 2);
}

#[tokio::test]
async fn hook_oversized_answer_fails_closed() {
    let big = format!(
        r#"{{"claims":{{"https://a.example/p":"{}"}}}}"#,
        "x".repeat(m2m_core::hook::MAX_HOOK_ANSWER_BYTES)
    );
    let hook = FakeHook::raw_json(&big);
    let (r, signed) = with_hook(&hook, "").await;
    assert!(matches!(r, Err(OAuthError::ServerError(_))), "{r:?}");
    assert_eq!(signed, 0);
}

#[tokio::test]
async fn hook_scopes_narrowed() {
    let hook = FakeHook::narrow(&["read:orders"]);
    let (r, _) = with_hook(&hook, "").await;
    let t = r.unwrap();
    assert_eq!(t.scope, "read:orders");
    assert_eq!(claims_of(&t.access_token)["scope"], "read:orders");
}

#[tokio::test]
async fn hook_scope_widening_server_error_no_token() {
    let hook = FakeHook::narrow(&["read:orders", "admin"]);
    let (r, signed) = with_hook(&hook, "&scope=read%3Aorders").await;
    assert_error(r, "server_error", 500);
    assert_eq!(signed, 0);
}

#[tokio::test]
async fn hook_deny_access_denied_no_token() {
    let (r, signed) = with_hook(&FakeHook::deny("suspended"), "").await;
    assert_error(r, "access_denied", 403);
    assert_eq!(signed, 0);
}

#[tokio::test]
async fn hook_error_server_error_no_token() {
    let (r, signed) = with_hook(&FakeHook::error("function error"), "").await;
    assert_error(r, "server_error", 500);
    assert_eq!(signed, 0);
}

#[tokio::test]
async fn hook_timeout_server_error_no_token() {
    let (r, signed) = with_hook(&FakeHook::timeout(), "").await;
    assert_error(r, "server_error", 500);
    assert_eq!(signed, 0);
}

#[tokio::test]
async fn hook_malformed_json_server_error_no_token() {
    for raw in [
        "not json",
        "{\"claims\": 5}",
        "{\"unexpected\": true}",
        "[]",
    ] {
        let (r, signed) = with_hook(&FakeHook::raw_json(raw), "").await;
        assert_error(r, "server_error", 500);
        assert_eq!(signed, 0, "{raw}");
    }
}

#[tokio::test]
async fn hook_not_called_when_authentication_fails() {
    let hook = FakeHook::claims(json!({}));
    let dir = fixtures::directory();
    let body = form("").replace(CLIENT_SECRET, "wrong");
    let req = parse_token_request(FORM, None, body.as_bytes()).unwrap();
    let r = issue_token(
        &req,
        NOW,
        &config(),
        &dir,
        &NoopSigner::default(),
        Some(&hook),
        &m2m_core::ports::NoKeySets,
    )
    .await;
    assert!(r.is_err());
    assert_eq!(hook.call_count(), 0);
}
