//! Control after issuance through the CLI as an operator drives it — the built binary,
//! `--json`, the local AWS emulator — and through the token handler on the same
//! table: `client revoke-tokens` (and `client disable`) take tokens out of service,
//! the reuse cache included, and publish the revocation for verifiers; `token revoke`
//! by jti; `client introspection`; `client quota` and `org quota` give 429s; `usage`
//! reports the hourly counts the token function wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use common::{get_token, Stack, T0};

fn revocation_entries(items: &[std::collections::HashMap<String, AttributeValue>]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i["PK"].as_s().is_ok_and(|pk| pk == "REVOCATION"))
        .map(|i| i["SK"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn revoke_tokens_introspection_quotas_and_usage() {
    let stack = Stack::with_table("control").await;
    stack.admin(T0, &["init"]).ok();
    let (id, secret) = stack.customer(T0);
    let app = stack.token_app().await;

    // A token, then the same token again from the reuse cache.
    let (status, first) = get_token(&app, &id, &secret, T0 + 10).await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = get_token(&app, &id, &secret, T0 + 20).await;
    assert_eq!(again["access_token"], first["access_token"]);

    // revoke-tokens: the cached token is not handed out again; a new one is issued.
    let revoked = stack
        .admin(T0 + 30, &["client", "revoke-tokens", "--client", &id])
        .ok();
    assert_eq!(revoked["not_before"], T0 + 31);
    let (status, after) = get_token(&app, &id, &secret, T0 + 40).await;
    assert_eq!(status, 200);
    assert_ne!(after["access_token"], first["access_token"]);
    let entries = revocation_entries(&stack.scan().await);
    assert_eq!(
        entries,
        vec![format!("CLIENT#{id}")],
        "published for verifiers"
    );

    // token revoke by jti: recorded hashed, and the client's epoch moves on.
    let out = stack
        .admin(
            T0 + 50,
            &["token", "revoke", "--client", &id, "--jti", "jti-to-revoke"],
        )
        .ok();
    assert_eq!(out["revoked"], true);
    let entries = revocation_entries(&stack.scan().await);
    assert_eq!(entries.len(), 2);
    assert!(
        entries.iter().all(|e| !e.contains("jti-to-revoke")),
        "{entries:?}"
    );
    stack
        .admin(
            T0 + 50,
            &["token", "revoke", "--client", "nobody", "--jti", "x"],
        )
        .fails(3);

    // The introspection permission.
    let shown = stack
        .admin(
            T0 + 60,
            &["client", "introspection", "--client", &id, "--allow"],
        )
        .ok();
    assert_eq!(shown["introspect"], true);

    // A client quota of 2 per minute: the third request of the minute is a 429.
    let minute = T0 + 600 - (T0 + 600) % 60;
    stack
        .admin(
            minute,
            &["client", "quota", "--client", &id, "--per-minute", "2"],
        )
        .ok();
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(get_token(&app, &id, &secret, minute + 1 + i).await.0);
        }
        v
    };
    assert_eq!(statuses, vec![200, 200, 429]);
    stack
        .admin(
            minute,
            &["client", "quota", "--client", &id, "--per-minute", "0"],
        )
        .fails(2);
    stack
        .admin(minute, &["client", "quota", "--client", &id, "--clear"])
        .ok();
    assert_eq!(get_token(&app, &id, &secret, minute + 5).await.0, 200);

    // An organization's quota reaches its current clients and those created later.
    let org = stack
        .admin(
            minute,
            &["org", "quota", "--org", "org_acme", "--per-day", "1000"],
        )
        .ok();
    assert_eq!(org["changed"].as_array().unwrap().len(), 1);
    let later = stack
        .admin(
            minute,
            &["client", "create", "--name", "later", "--org", "org_acme"],
        )
        .ok();
    assert_eq!(later["org_quota"]["per_day"], 1000);

    // Disabling revokes too (the entry's not-before moves on).
    stack.admin(minute + 70, &["client", "disable", &id]).ok();
    let shown = stack.admin(minute + 70, &["client", "show", &id]).ok();
    assert_eq!(shown["not_before"], minute + 71);

    // Usage, as the token function wrote it (its tally flushes at most once a minute).
    let report: Value = stack
        .admin(
            minute + 70,
            &[
                "usage",
                "--client",
                &id,
                "--from",
                "2033-05-18T00:00:00Z",
                "--to",
                "2033-05-19T00:00:00Z",
            ],
        )
        .ok();
    assert!(report["total"].as_u64().unwrap() >= 1, "{report}");
    let org_report = stack
        .admin(
            minute + 70,
            &["usage", "--org", "org_acme", "--hours", "48"],
        )
        .ok();
    assert_eq!(org_report["subject"]["org_id"], "org_acme");
}
