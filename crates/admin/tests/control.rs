//! Control after issuance through the CLI — the built binary, `--json` — against the
//! local emulator, with the token handler on the same table: revoking a client's tokens
//! (and disabling it) ends the reuse of an earlier token and leaves the entry the
//! authorizer reads; a token revoked by jti; the introspection permission; client and
//! organization quotas answered with 429 by the token endpoint; hourly usage. Refused
//! commands change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{get_token, Stack, API, ISSUER, T0};
use jsonwebtoken::{decode_header, Algorithm};
use m2m_aws::dynamo::registry::DynamoKeyRegistry;
use m2m_aws::DynamoRevocations;
use m2m_core::model::MAX_TOKEN_LIFETIME;
use m2m_core::revocation::{RevocationList, Revocations as _};
use m2m_testkit::jwt::{self, Expect};
use serde_json::{json, Value};

/// The claims of `token`, verified with `jsonwebtoken` against the registry's key.
async fn claims(stack: &Stack, token: &Value) -> Value {
    let token = token.as_str().unwrap();
    let header = decode_header(token).unwrap();
    let keys = DynamoKeyRegistry::new(stack.dynamo().await, &stack.table)
        .list()
        .await
        .unwrap();
    let key = keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == header.kid.as_deref())
        .unwrap();
    let expect = Expect::new(Algorithm::RS256)
        .audience(API)
        .issuer(ISSUER)
        .any_expiry();
    jwt::verify(token, &key.public_jwk, &expect).unwrap().claims
}

/// The revocations as the authorizer reads them at `now`.
async fn verifiers_view(stack: &Stack, now: u64) -> RevocationList {
    DynamoRevocations::new(stack.dynamo().await, &stack.table)
        .with_clock(Arc::new(move || now))
        .revocation_list()
        .await
        .unwrap()
}

/// A table with an active signing key.
async fn stack(prefix: &str) -> Stack {
    let stack = Stack::with_table(prefix).await;
    stack.admin(T0, &["init"]).ok();
    stack
}

/// `m2m-admin <args>` without `--json`: the text an operator reads.
fn text(stack: &Stack, now: u64, args: &[&str]) -> String {
    let out = stack.command(now).args(args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn revoke_tokens_ends_reuse_and_tells_verifiers() {
    let stack = stack("m2m-admin-revoke").await;
    let (id, secret) = stack.customer(T0);
    let app = stack.token_app().await;
    let (_, first) = get_token(&app, &id, &secret, T0 + 1).await;
    let (_, reused) = get_token(&app, &id, &secret, T0 + 2).await;
    assert_eq!(first["access_token"], reused["access_token"], "a reuse hit");
    let first_jti = claims(&stack, &first["access_token"]).await["jti"].clone();

    let revoked = stack
        .admin(T0 + 10, &["client", "revoke-tokens", "--client", &id])
        .ok();
    assert_eq!(revoked["revoked_before"], T0 + 11);
    assert_eq!(revoked["not_before"], T0 + 11);
    assert_eq!(revoked["status"], "active");

    // The token endpoint no longer hands out the earlier token: it signs a new one.
    let (status, after) = get_token(&app, &id, &secret, T0 + 20).await;
    assert_eq!(status, 200, "{after}");
    assert_ne!(after["access_token"], first["access_token"]);
    let after_claims = claims(&stack, &after["access_token"]).await;
    assert_eq!(after_claims["iat"], T0 + 20);

    // The authorizer's view: tokens issued before T0 + 11 are revoked, the new one not.
    let view = verifiers_view(&stack, T0 + 20).await;
    assert_eq!(view.not_before(&id), Some(T0 + 11));
    assert!(view.is_revoked(&id, first_jti.as_str(), T0 + 1));
    assert!(!view.is_revoked(&id, after_claims["jti"].as_str(), T0 + 20));

    let shown = text(&stack, T0 + 30, &["client", "show", &id]);
    assert!(shown.contains("not before:"), "{shown}");
    assert!(shown.contains("2033-05-18T03:33:31Z"), "{shown}");
    let said = text(
        &stack,
        T0 + 40,
        &["client", "revoke-tokens", "--client", &id],
    );
    assert!(said.contains("not before: 2000000041"), "{said}");

    let before = stack.scan().await;
    let m = stack
        .admin(T0 + 50, &["client", "revoke-tokens", "--client", "nobody"])
        .fails(3);
    assert!(m.contains("client nobody not found"), "{m}");
    assert_eq!(stack.scan().await, before);
}

#[tokio::test]
async fn disable_revokes_and_enable_keeps_the_revocation() {
    let stack = stack("m2m-admin-disable").await;
    let (id, secret) = stack.customer(T0);
    let (other, other_secret) = stack.customer(T0);
    let app = stack.token_app().await;
    let (_, first) = get_token(&app, &id, &secret, T0 + 1).await;

    let disabled = stack.admin(T0 + 10, &["client", "disable", &id]).ok();
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["not_before"], T0 + 11);
    let entry = stack
        .scan()
        .await
        .into_iter()
        .find(|i| {
            i["PK"].as_s().unwrap() == "REVOCATION"
                && i["SK"].as_s().unwrap() == &format!("CLIENT#{id}")
        })
        .expect("a REVOCATION client entry");
    assert_eq!(entry["not_before"].as_n().unwrap(), &(T0 + 11).to_string());
    let (status, _) = get_token(&app, &id, &secret, T0 + 12).await;
    assert_eq!(status, 401);

    let enabled = stack.admin(T0 + 20, &["client", "enable", &id]).ok();
    assert_eq!(
        enabled["not_before"],
        T0 + 11,
        "enabling revokes nothing back"
    );
    let (status, again) = get_token(&app, &id, &secret, T0 + 21).await;
    assert_eq!(status, 200);
    assert_ne!(again["access_token"], first["access_token"]);
    assert_eq!(
        verifiers_view(&stack, T0 + 21).await.not_before(&id),
        Some(T0 + 11)
    );

    // Offboarding the organization disables and revokes each of its clients.
    let off = stack
        .admin(T0 + 30, &["org", "disable", "--org", "org_acme"])
        .ok();
    assert_eq!(off["changed"].as_array().unwrap().len(), 2);
    let view = verifiers_view(&stack, T0 + 31).await;
    for client in [&id, &other] {
        assert_eq!(view.not_before(client), Some(T0 + 31), "{client}");
    }
    let (status, _) = get_token(&app, &other, &other_secret, T0 + 32).await;
    assert_eq!(status, 401);
    let on = stack
        .admin(T0 + 40, &["org", "enable", "--org", "org_acme"])
        .ok();
    assert_eq!(on["changed"].as_array().unwrap().len(), 2);
    let (status, _) = get_token(&app, &other, &other_secret, T0 + 41).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_revoked_by_jti_for_verifiers_and_the_reuse_cache() {
    let stack = stack("m2m-admin-jti").await;
    let (id, secret) = stack.customer(T0);
    let app = stack.token_app().await;
    let (_, first) = get_token(&app, &id, &secret, T0 + 1).await;
    let jti = claims(&stack, &first["access_token"]).await["jti"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = stack
        .admin(
            T0 + 10,
            &["token", "revoke", "--client", &id, "--jti", &jti],
        )
        .ok();
    assert_eq!(revoked["expires_at"], T0 + 10 + MAX_TOKEN_LIFETIME);
    assert_eq!(revoked["revocation_epoch"], 1);
    let view = verifiers_view(&stack, T0 + 20).await;
    assert!(view.is_revoked(&id, Some(&jti), T0 + 1));
    assert_eq!(
        view.not_before(&id),
        None,
        "the client's other tokens stay valid"
    );
    let raw = format!("{:?}", stack.scan().await);
    assert!(!raw.contains(&jti), "the table holds no token id");
    let (_, after) = get_token(&app, &id, &secret, T0 + 20).await;
    assert_ne!(after["access_token"], first["access_token"], "no reuse");

    let one_hour = stack
        .admin(
            T0 + 30,
            &[
                "token",
                "revoke",
                "--client",
                &id,
                "--jti",
                "-dash",
                "--expires-in",
                "1h",
            ],
        )
        .ok();
    assert_eq!(one_hour["expires_at"], T0 + 30 + 3600);
    assert_eq!(one_hour["revocation_epoch"], 2);
    let at = stack
        .admin(
            T0 + 30,
            &[
                "token",
                "revoke",
                "--client",
                &id,
                "--jti",
                "j-3",
                "--expires-at",
                "2033-05-18T04:00:00Z",
            ],
        )
        .ok();
    assert_eq!(at["expires_at"], 2_000_001_600);

    let before = stack.scan().await;
    for (args, code) in [
        (vec!["--jti", "j", "--expires-in", "2d"], 2),
        (vec!["--jti", "j", "--expires-at", "1000"], 2),
        (
            vec!["--jti", "j", "--expires-at", "1", "--expires-in", "1h"],
            2,
        ),
        (vec!["--jti", ""], 2),
    ] {
        let mut all = vec!["token", "revoke", "--client", &id];
        all.extend(args.iter());
        let run = stack.admin(T0 + 40, &all);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
    }
    let m = stack
        .admin(
            T0 + 40,
            &["token", "revoke", "--client", "nobody", "--jti", "j"],
        )
        .fails(3);
    assert!(m.contains("client nobody not found"), "{m}");
    assert_eq!(stack.scan().await, before, "refusals change nothing");
}

#[tokio::test]
async fn introspection_permission_set_and_shown() {
    let stack = Stack::with_table("m2m-admin-introspect").await;
    let (id, _) = stack.customer(T0);
    let shown = stack.admin(T0, &["client", "show", &id]).ok();
    assert_eq!(shown["introspect"], false);
    let allowed = stack
        .admin(T0, &["client", "introspection", "--client", &id, "--allow"])
        .ok();
    assert_eq!(allowed["introspect"], true);
    assert!(text(&stack, T0, &["client", "show", &id]).contains("introspect: allowed"));
    let denied = stack
        .admin(T0, &["client", "introspection", "--client", &id, "--deny"])
        .ok();
    assert_eq!(denied["introspect"], false);
    for bad in [
        vec!["client", "introspection", "--client", &id],
        vec![
            "client",
            "introspection",
            "--client",
            &id,
            "--allow",
            "--deny",
        ],
    ] {
        assert_eq!(stack.admin(T0, &bad).code, 2, "{bad:?}");
    }
}

#[tokio::test]
async fn client_quota_answered_429_and_cleared() {
    let stack = stack("m2m-admin-quota").await;
    let (id, secret) = stack.customer(T0);
    let app = stack.token_app().await;
    let set = stack
        .admin(
            T0,
            &["client", "quota", "--client", &id, "--per-minute", "2"],
        )
        .ok();
    assert_eq!(set["quota"], json!({"per_minute": 2, "per_day": null}));
    // Minute T0 - T0 % 60 holds T0 + 1 .. T0 + 3 (T0 = 2e9 is 20 s into a minute).
    for t in [T0 + 1, T0 + 2] {
        assert_eq!(get_token(&app, &id, &secret, t).await.0, 200);
    }
    assert_eq!(get_token(&app, &id, &secret, T0 + 3).await.0, 429);
    assert!(text(&stack, T0, &["client", "show", &id]).contains("2/min"));

    let before = stack.scan().await;
    for bad in [
        vec!["--per-minute", "0"],
        vec!["--per-day", "1000000001"],
        vec!["--per-minute", "10", "--per-day", "5"],
        vec!["--per-minute", "5", "--clear"],
        vec![],
    ] {
        let mut args = vec!["client", "quota", "--client", &id];
        args.extend(bad.iter());
        let run = stack.admin(T0, &args);
        assert_eq!(run.code, 2, "{bad:?}: {}", run.stderr);
    }
    assert_eq!(stack.scan().await, before, "refusals change nothing");

    let cleared = stack
        .admin(T0, &["client", "quota", "--client", &id, "--clear"])
        .ok();
    assert_eq!(cleared["quota"], Value::Null);
    assert_eq!(get_token(&app, &id, &secret, T0 + 4).await.0, 200);
}

#[tokio::test]
async fn org_quota_shared_by_present_and_future_clients() {
    let stack = stack("m2m-admin-org-quota").await;
    let (a, a_secret) = stack.customer(T0);
    let (b, b_secret) = stack.customer(T0);
    let app = stack.token_app().await;
    let set = stack
        .admin(
            T0,
            &[
                "org",
                "quota",
                "--org",
                "org_acme",
                "--per-minute",
                "1",
                "--per-day",
                "1000",
            ],
        )
        .ok();
    assert_eq!(set["clients_updated"], 2);
    assert_eq!(set["quota"], json!({"per_minute": 1, "per_day": 1000}));
    let shown = stack.admin(T0, &["client", "show", &b]).ok();
    assert_eq!(shown["org_quota"], set["quota"]);
    assert_eq!(shown["quota"], Value::Null);
    // One request a minute for the whole organization.
    assert_eq!(get_token(&app, &a, &a_secret, T0 + 1).await.0, 200);
    assert_eq!(get_token(&app, &b, &b_secret, T0 + 2).await.0, 429);

    let (c, _) = stack.customer(T0);
    let later = stack.admin(T0, &["client", "show", &c]).ok();
    assert_eq!(
        later["org_quota"], set["quota"],
        "a later client starts with it"
    );
    let org = stack.admin(T0, &["org", "show", "--org", "org_acme"]).ok();
    assert_eq!(org["quota"], set["quota"]);
    assert_eq!(org["clients"].as_array().unwrap().len(), 3);

    let again = stack
        .admin(
            T0,
            &[
                "org",
                "quota",
                "--org",
                "org_acme",
                "--per-minute",
                "1",
                "--per-day",
                "1000",
            ],
        )
        .ok();
    assert_eq!(again["clients_updated"], 0);
    assert_eq!(again["clients_unchanged"], 3);
    let cleared = stack
        .admin(T0, &["org", "quota", "--org", "org_acme", "--clear"])
        .ok();
    assert_eq!(cleared["clients_updated"], 3);
    assert_eq!(get_token(&app, &b, &b_secret, T0 + 3).await.0, 200);
    let m = stack
        .admin(T0, &["org", "quota", "--org", " ", "--per-day", "5"])
        .fails(2);
    assert!(m.contains("organization id"), "{m}");
}

#[tokio::test]
async fn usage_per_hour_with_total() {
    let stack = stack("m2m-admin-usage").await;
    let (id, secret) = stack.customer(T0);
    let app = stack.token_app().await;
    // T0 is 2000 s into its hour: one token in it, one in the next. Each instance adds
    // its counts to the table at most once a minute; these two are a minute apart.
    let first_hour = T0 - 2000;
    for t in [T0 + 1, T0 + 1700] {
        assert_eq!(get_token(&app, &id, &secret, t).await.0, 200);
    }
    let usage = stack
        .admin(T0 + 1800, &["usage", "--client", &id, "--hours", "24"])
        .ok();
    assert_eq!(usage["subject"], json!({"client_id": id}));
    assert_eq!(
        usage["hours"],
        json!([
            {"hour": "2033-05-18T03:00:00Z", "start": first_hour, "count": 1},
            {"hour": "2033-05-18T04:00:00Z", "start": first_hour + 3600, "count": 1},
        ])
    );
    assert_eq!(usage["total"], 2);
    let org = stack
        .admin(
            T0 + 1800,
            &[
                "usage",
                "--org",
                "org_acme",
                "--from",
                "2033-05-18T03:00:00Z",
                "--to",
                "2033-05-18T04:00:00Z",
            ],
        )
        .ok();
    assert_eq!(org["total"], 1, "--to is excluded");
    assert_eq!(org["hours"][0]["start"], first_hour);
    let said = text(&stack, T0 + 1800, &["usage", "--client", &id]);
    assert!(said.contains("2033-05-18T04:00:00Z  1"), "{said}");
    assert!(said.ends_with("total: 2\n"), "{said}");

    for bad in [
        vec!["usage"],
        vec![
            "usage",
            "--client",
            &id,
            "--from",
            "2033-05-18T04:00:00Z",
            "--to",
            "2033-05-18T03:00:00Z",
        ],
        vec!["usage", "--client", &id, "--hours", "0"],
        vec!["usage", "--client", &id, "--to", "2033-05-18T03:00:00Z"],
        vec!["usage", "--client", &id, "--from", "yesterday"],
    ] {
        assert_eq!(stack.admin(T0 + 1800, &bad).code, 2, "{bad:?}");
    }
}
