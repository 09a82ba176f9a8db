//! Property tests of the issuance invariants, over generated requests,
//! grants, lifetimes and hook answers: any input yields a token or an RFC 6749 §5.2
//! error body, never a panic; a token's scope is within the grant (and the API and
//! the request); `expires_in` never exceeds the API's lifetime; the claims hook never
//! changes a reserved claim.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use m2m_core::basic::encode_basic;
use m2m_core::hook::{HookResponse, RESERVED_CLAIMS};
use m2m_core::http_response::{admit, token_http_response, ErrorAnswer as _, Refusal};
use m2m_core::model::MAX_TOKEN_LIFETIME;
use m2m_core::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::testing::{FakeHook, InMemoryDirectory, NoopSigner};
use m2m_core::types::ScopeSet;
use m2m_core::{issue_token, parse_token_request, IssuerConfig, TokenResponse};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The in-memory fakes never wait: poll to completion without a runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn config() -> IssuerConfig {
    m2m_testkit::issuer_config(ISSUER)
}

fn claims_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Admits, parses and issues against `directory`, with an optional hook: what the token
/// endpoint does with one HTTP request.
fn issue(
    directory: &InMemoryDirectory,
    method: &str,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
    hook: Option<&FakeHook>,
) -> Result<TokenResponse, Refusal> {
    admit(method, body)?;
    let request = parse_token_request(content_type, authorization, body)?;
    Ok(block_on(issue_token(
        &request,
        NOW,
        &config(),
        directory,
        &NoopSigner::new(),
        hook,
        &m2m_core::ports::NoKeySets,
    ))?)
}

/// The RFC 6749 §5.1/§5.2 shape of the HTTP answer of any outcome.
fn assert_wire_shape(outcome: &Result<TokenResponse, Refusal>) {
    let response = token_http_response(outcome);
    let body: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json");
    match outcome {
        Ok(t) => {
            assert_eq!(response.status(), 200);
            assert_eq!(body["access_token"], t.access_token.as_str());
            assert_eq!(body["token_type"], "Bearer");
        }
        Err(e) => {
            let codes = [
                "invalid_request",
                "invalid_client",
                "unsupported_grant_type",
                "invalid_target",
                "access_denied",
                "invalid_scope",
                "server_error",
            ];
            assert!(codes.contains(&body["error"].as_str().unwrap()), "{body}");
            assert_eq!(body["error"], e.code());
            assert!(body["error_description"].is_string());
            assert!(body.get("access_token").is_none());
            assert!(response.status().as_u16() >= 400);
        }
    }
}

const SCOPE_UNIVERSE: &[&str] = &["a", "b", "c", "d", "read:orders", "write:orders", "admin"];

fn scope_subset() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(SCOPE_UNIVERSE, 0..=SCOPE_UNIVERSE.len())
}

/// A parameter value: mostly plausible, sometimes hostile.
fn value() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        Just(CLIENT_ID.to_owned()),
        Just(CLIENT_SECRET.to_owned()),
        Just(API.to_owned()),
        Just("client_credentials".to_owned()),
        Just("read:orders admin".to_owned()),
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

fn param() -> impl Strategy<Value = (String, String)> + Clone {
    (
        prop_oneof![
            Just("grant_type".to_owned()),
            Just("client_id".to_owned()),
            Just("client_secret".to_owned()),
            Just("audience".to_owned()),
            Just("resource".to_owned()),
            Just("scope".to_owned()),
            "[a-z_]{1,8}",
        ],
        value(),
    )
}

/// A whole request: method, content type, Authorization and body, built from
/// parameters (form or JSON) or raw bytes.
fn request() -> impl Strategy<Value = (String, Option<String>, Option<String>, Vec<u8>)> {
    let method = prop_oneof![
        4 => Just("POST".to_owned()),
        1 => Just("GET".to_owned()),
        1 => "[A-Za-z]{0,7}",
    ];
    let content_type = prop_oneof![
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(None),
        proptest::option::of("[ -~]{0,30}"),
    ];
    let authorization = prop_oneof![
        3 => Just(None),
        1 => Just(Some(encode_basic(CLIENT_ID, CLIENT_SECRET))),
        1 => (value(), value()).prop_map(|(i, s)| Some(encode_basic(&i, &s))),
        1 => proptest::option::of("[ -~]{0,40}"),
    ];
    let params = || proptest::collection::vec(param(), 0..8);
    let body = prop_oneof![
        params().prop_map(|p| form_encode(&p).into_bytes()),
        params().prop_map(|p| {
            let obj: Map<String, Value> = p.into_iter().map(|(k, v)| (k, v.into())).collect();
            Value::Object(obj).to_string().into_bytes()
        }),
        proptest::collection::vec(any::<u8>(), 0..200),
    ];
    (method, content_type, authorization, body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_request_token_or_error_body(
        (method, content_type, authorization, body) in request()
    ) {
        let outcome = issue(
            &fixtures::directory(),
            &method,
            content_type.as_deref(),
            authorization.as_deref(),
            &body,
            None,
        );
        assert_wire_shape(&outcome);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn token_scope_within_grant(
        api_scopes in scope_subset(),
        granted in scope_subset(),
        requested in proptest::option::of(scope_subset()),
        narrowed in proptest::option::of(scope_subset()),
    ) {
        let directory = InMemoryDirectory::new()
            .with_api(fixtures::api(API, &api_scopes))
            .with_client(fixtures::client(CLIENT_ID, CLIENT_SECRET))
            .with_grant(fixtures::grant(CLIENT_ID, API, &granted));
        let mut body = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&audience={API}"
        );
        if let Some(r) = &requested {
            body.push_str(&format!("&scope={}", r.join("+")));
        }
        let hook = narrowed.as_ref().map(|n| FakeHook::narrow(n));
        let outcome = issue(
            &directory,
            "POST",
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
            hook.as_ref(),
        );
        assert_wire_shape(&outcome);
        if let Ok(token) = outcome {
            let got = ScopeSet::parse(&token.scope).unwrap();
            let allowed = fixtures::scopes(&granted).intersection(&fixtures::scopes(&api_scopes));
            prop_assert!(got.is_subset(&allowed), "{} not within {}", token.scope, allowed.to_wire());
            if let Some(r) = requested.filter(|r| !r.is_empty()) {
                prop_assert!(got.is_subset(&fixtures::scopes(&r)));
            }
            if let Some(n) = &narrowed {
                prop_assert!(got.is_subset(&fixtures::scopes(n)));
            }
            prop_assert_eq!(&claims_of(&token.access_token)["scope"], token.scope.as_str());
        }
    }

    #[test]
    fn expires_in_within_api_lifetime(
        lifetime in prop_oneof![0u64..=200_000, Just(u64::MAX), any::<u64>()],
    ) {
        let mut api = fixtures::api(API, fixtures::API_SCOPES);
        api.token_lifetime = lifetime;
        let directory = fixtures::directory();
        directory.put_api(api);
        let body = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&audience={API}"
        );
        let token = issue(
            &directory,
            "POST",
            Some("application/x-www-form-urlencoded"),
            None,
            body.as_bytes(),
            None,
        )
        .unwrap();
        prop_assert!(token.expires_in <= lifetime.max(1));
        prop_assert!(token.expires_in <= MAX_TOKEN_LIFETIME);
        prop_assert!(token.expires_in >= 1);
        let claims = claims_of(&token.access_token);
        prop_assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), token.expires_in);
    }

    #[test]
    fn hook_never_changes_reserved_claims(
        custom in proptest::collection::btree_map(
            prop_oneof![
                proptest::sample::select(RESERVED_CLAIMS).prop_map(str::to_owned),
                "[a-z_]{1,6}",
            ],
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                "[ -~]{0,10}".prop_map(Value::from),
                Just(Value::Null),
                Just(serde_json::json!({"nested": ["x"]})),
            ],
            0..10,
        ),
        auth0 in any::<bool>(),
        in_org in any::<bool>(),
    ) {
        let directory = fixtures::directory();
        if auth0 {
            directory.put_api(fixtures::auth0_api(API, fixtures::API_SCOPES));
        }
        if in_org {
            directory.put_client(fixtures::client_in_org(CLIENT_ID, CLIENT_SECRET, "org_1"));
        }
        let body = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}&audience={API}"
        );
        let run = |hook: Option<&FakeHook>| {
            issue(&directory, "POST", Some("application/x-www-form-urlencoded"), None, body.as_bytes(), hook)
                .map(|t| claims_of(&t.access_token))
                .unwrap()
        };
        let plain = run(None);
        let hook = FakeHook::answer(HookResponse {
            claims: custom.clone().into_iter().collect(),
            ..HookResponse::default()
        });
        let hooked = run(Some(&hook));
        prop_assert_eq!(hook.call_count(), 1);
        for name in RESERVED_CLAIMS {
            if *name == "jti" {
                // Unique per token: only check the hook's value did not get in.
                prop_assert!(hooked.get("jti").is_some());
                if let Some(v) = custom.get("jti") {
                    prop_assert_ne!(hooked.get("jti"), Some(v));
                }
                continue;
            }
            prop_assert_eq!(hooked.get(*name), plain.get(*name), "reserved claim {}", name);
        }
        for (name, value) in &custom {
            if m2m_core::hook::hook_may_set(name, &[]) {
                prop_assert_eq!(hooked.get(name), Some(value));
            } else if name != "jti" {
                prop_assert_eq!(hooked.get(name), plain.get(name), "claim {} not settable", name);
            }
        }
    }
}
