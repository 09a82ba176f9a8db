//! One whole issuance with in-memory fakes and a no-op signer: parsing (form body and
//! Basic header), authentication (SHA-256 + constant-time compare), scope resolution,
//! claims, JSON, base64 and the HTTP response. Signing is excluded (KMS does it).
//! `issue_token_basic_form` signs every time (token reuse off); `issue_token_reuse_hit`
//! is the same request answered from the reuse cache: fingerprint and
//! freshness check instead of claims and signing input. `reuse_key_derive_and_open`
//! is the part of every request that sealing the cache at rest adds: the HKDF-SHA256
//! derivation from the presented secret and the AES-256-GCM open of an RS256-sized
//! token. `issue_token_private_key_jwt_*` is the same request authenticated by a
//! client assertion (RFC 7523) instead of a secret: parsing the JWT, verifying its
//! signature with the registered public key (RS256, ES256, EdDSA), the claim checks
//! and the `jti` record; `issue_token_federated_rs256` verifies a Kubernetes-shaped
//! token against a trusted issuer's key and matches a trust rule (reuse off). Each
//! assertion is signed outside the timed loop.
//! Run: `cargo bench -p m2m-core --bench issuance`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt as _;
use m2m_core::basic::encode_basic;
use m2m_core::http_response::token_http_response;
use m2m_core::ports::NoHook;
use m2m_core::testing::fixtures::{self, CLIENT_ID, CLIENT_SECRET, ISSUER, NOW};
use m2m_core::testing::NoopSigner;
use m2m_core::{issue_token, parse_token_request};

fn issuance(c: &mut Criterion) {
    bench(
        c,
        "issue_token_basic_form",
        fixtures::directory_without_reuse(),
    );
    bench(c, "issue_token_reuse_hit", fixtures::directory());
    seal_overhead(c);
    use m2m_core::testing::assertions::{EC, ED25519, RSA};
    assertion_bench(c, "issue_token_private_key_jwt_es256", EC, false);
    assertion_bench(c, "issue_token_private_key_jwt_rs256", RSA, false);
    assertion_bench(c, "issue_token_private_key_jwt_eddsa", ED25519, false);
    assertion_bench(c, "issue_token_federated_rs256", RSA, true);
}

fn assertion_bench(
    c: &mut Criterion,
    name: &str,
    key: m2m_core::testing::assertions::TestKey,
    federated: bool,
) {
    use m2m_core::auth::AssertionPolicy;
    use m2m_core::model::Match;
    use m2m_core::testing::assertions::{
        assertion_form, jwk_set, self_claims, trust_rule, FakeKeySets, EXTERNAL_ISSUER,
    };
    use m2m_core::types::ClientId;
    use std::sync::atomic::{AtomicU64, Ordering};

    let directory = fixtures::directory_without_reuse();
    directory.update_client(&ClientId::new(CLIENT_ID), |cl| {
        cl.keys = vec![key.client_key(None)];
    });
    directory.put_trust_rule(
        &ClientId::new(CLIENT_ID),
        trust_rule(
            "tr_1",
            Match::Glob("system:serviceaccount:*".into()),
            "m2m-auth",
        ),
    );
    let key_sets = FakeKeySets::new().with_issuer(EXTERNAL_ISSUER, jwk_set(&[key]));
    let config = m2m_core::IssuerConfig {
        assertions: AssertionPolicy {
            trusted_issuers: vec![EXTERNAL_ISSUER.to_owned()],
            ..AssertionPolicy::default()
        },
        ..m2m_testkit::issuer_config(ISSUER)
    };
    let signer = NoopSigner::default();
    let counter = AtomicU64::new(0);
    let next_body = || {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let claims = if federated {
            serde_json::json!({
                "iss": EXTERNAL_ISSUER, "sub": "system:serviceaccount:payments:api",
                "aud": ["m2m-auth"], "iat": NOW, "exp": NOW + 3600, "jti": n.to_string(),
            })
        } else {
            self_claims(
                CLIENT_ID,
                "https://auth.example.com/oauth/token",
                NOW,
                &n.to_string(),
            )
        };
        let extra = if federated {
            format!(
                "&client_id={CLIENT_ID}&audience=https%3A%2F%2Fapi.example.com&scope=read%3Aorders"
            )
        } else {
            "&audience=https%3A%2F%2Fapi.example.com&scope=read%3Aorders".to_owned()
        };
        assertion_form(&key.sign(&claims, None, None), &extra)
    };
    let mut group = c.benchmark_group("assertions");
    group.sample_size(30);
    group.bench_function(name, |b| {
        b.iter_batched(
            next_body,
            |body| {
                let outcome = parse_token_request(
                    Some("application/x-www-form-urlencoded"),
                    None,
                    black_box(body.as_bytes()),
                )
                .and_then(|req| {
                    issue_token(
                        &req,
                        NOW + 1,
                        &config,
                        &directory,
                        &signer,
                        None::<&NoHook>,
                        &key_sets,
                    )
                    .now_or_never()
                    .unwrap_or_else(|| Err(m2m_core::OAuthError::server("pending")))
                });
                let response = token_http_response(&outcome);
                assert_eq!(response.status(), 200, "{}", response.body());
                black_box(response)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn seal_overhead(c: &mut Criterion) {
    use m2m_core::reuse::{CachedToken, Fingerprint, ReuseKey};
    use m2m_core::types::{Audience, ClientId, ClientSecret, ScopeSet};
    let client = ClientId::new(CLIENT_ID);
    let secret = ClientSecret::new(CLIENT_SECRET);
    let audience = Audience::new(fixtures::API);
    let scopes = ScopeSet::parse("read:orders");
    let token = CachedToken {
        // An RS256 token is about 900 bytes.
        access_token: "e".repeat(900),
        scope: "read:orders".into(),
        issued_at: NOW,
        expires_at: NOW + 3600,
        fingerprint: Fingerprint([7; 32]),
    };
    let sealed = ReuseKey::new(&client, &secret, &audience, scopes.as_ref())
        .seal(&client, &token)
        .unwrap();
    c.bench_function("reuse_key_derive_and_open", |b| {
        b.iter(|| {
            let key = ReuseKey::new(
                black_box(&client),
                black_box(&secret),
                &audience,
                scopes.as_ref(),
            );
            black_box(key.open(&client, black_box(&sealed)))
        })
    });
}

fn bench(c: &mut Criterion, name: &str, directory: m2m_core::testing::InMemoryDirectory) {
    // Past the hourly window, so no last-used write is due: the steady state.
    directory.update_client(&m2m_core::types::ClientId::new(CLIENT_ID), |cl| {
        for s in &mut cl.secrets {
            s.last_used_at = Some(NOW);
        }
    });
    let signer = NoopSigner::default();
    let config = m2m_testkit::issuer_config(ISSUER);
    let basic = encode_basic(CLIENT_ID, CLIENT_SECRET);
    let body =
        b"grant_type=client_credentials&audience=https%3A%2F%2Fapi.example.com&scope=read%3Aorders";
    c.bench_function(name, |b| {
        b.iter(|| {
            let outcome = parse_token_request(
                Some("application/x-www-form-urlencoded"),
                Some(black_box(&basic)),
                black_box(body),
            )
            .and_then(|req| {
                issue_token(
                    &req,
                    NOW + 1,
                    &config,
                    &directory,
                    &signer,
                    None::<&NoHook>,
                    &m2m_core::ports::NoKeySets,
                )
                .now_or_never()
                .unwrap_or_else(|| Err(m2m_core::OAuthError::server("pending")))
            });
            let response = token_http_response(&outcome);
            assert_eq!(response.status(), 200);
            black_box(response)
        })
    });
}

criterion_group!(benches, issuance);
criterion_main!(benches);
