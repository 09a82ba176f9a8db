//! `m2m-admin keys` and `init`, driven as the built binary against the local emulator:
//! the publish-before-activate delay, the single active key, retirement and the refusal
//! to drop a key whose tokens may still be valid. Time moves through `M2M_ADMIN_NOW`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{key, Stack, T0};

#[tokio::test]
async fn key_rotation_waits_for_jwks_cache_and_retires_previous() {
    let stack = Stack::with_table("m2m-admin-keys").await;

    let first = stack.admin(T0, &["keys", "create", "--alg", "ES256"]).ok();
    let k1 = first["kid"].as_str().unwrap().to_owned();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["alg"], "ES256");
    assert_eq!(first["published"], true);

    // Published 10 s ago: verifiers may still hold a JWKS without it. Refused, unchanged.
    let before = stack.scan().await;
    let early = stack.admin(T0 + 10, &["keys", "activate", &k1]).fails(4);
    assert!(
        early.contains("360 s") && early.contains("--force"),
        "{early}"
    );
    assert_eq!(stack.scan().await, before);

    // --force overrides (nothing has fetched this table's JWKS).
    let forced = stack
        .admin(T0 + 10, &["keys", "activate", &k1, "--force"])
        .ok();
    assert_eq!(forced["activated"], k1.as_str());
    assert_eq!(forced["retired"].as_array().unwrap().len(), 0);

    // A second key, activated once the cache lifetime has passed: the first retires.
    let k2 = stack
        .admin(T0 + 20, &["keys", "create", "--alg", "RS256"])
        .ok()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = stack.admin(T0 + 20, &["keys", "list"]).ok();
    assert_eq!(key(&listed, &k1)["status"], "active");
    assert_eq!(key(&listed, &k2)["status"], "pending");
    assert_eq!(key(&listed, &k2)["published"], true);
    stack.admin(T0 + 379, &["keys", "activate", &k2]).fails(4);
    let activated = stack.admin(T0 + 380, &["keys", "activate", &k2]).ok();
    assert_eq!(activated["retired"][0], k1.as_str());

    let listed = stack.admin(T0 + 380, &["keys", "list"]).ok();
    assert_eq!(key(&listed, &k2)["status"], "active");
    assert_eq!(key(&listed, &k2)["activated_at"], T0 + 380);
    assert_eq!(key(&listed, &k1)["status"], "retired");
    assert_eq!(key(&listed, &k1)["retired_at"], T0 + 380);
    assert_eq!(key(&listed, &k1)["published"], true);
    let active = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "active")
        .count();
    assert_eq!(active, 1);

    // A retired key cannot come back, and the active key is not retired by accident.
    stack.admin(T0 + 400, &["keys", "activate", &k1]).fails(4);
    let active_retire = stack.admin(T0 + 400, &["keys", "retire", &k2]).fails(4);
    assert!(active_retire.contains("--force"), "{active_retire}");

    // Tokens signed by k1 just before retirement stay valid for up to 86400 s.
    let still_valid = stack
        .admin(T0 + 380 + 86_399, &["keys", "delete", &k1])
        .fails(4);
    assert!(still_valid.contains("may be valid until"), "{still_valid}");
    let listed = stack.admin(T0 + 380 + 86_400, &["keys", "list"]).ok();
    assert_eq!(key(&listed, &k1)["published"], false);
    let deleted = stack
        .admin(
            T0 + 380 + 86_400,
            &["keys", "delete", &k1, "--pending-days", "7"],
        )
        .ok();
    assert_eq!(deleted["deleted"], k1.as_str());
    let listed = stack.admin(T0 + 380 + 86_400, &["keys", "list"]).ok();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);

    // Only a retired key can be deleted.
    stack.admin(T0 + 999_999, &["keys", "delete", &k2]).fails(4);
    stack
        .admin(T0, &["keys", "activate", "no-such-kid"])
        .fails(3);
}

#[tokio::test]
async fn pending_key_retired_without_force() {
    let stack = Stack::with_table("m2m-admin-retire").await;
    let kid = stack.admin(T0, &["keys", "create", "--alg", "ES256"]).ok()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = stack.admin(T0 + 5, &["keys", "retire", &kid]).ok();
    assert_eq!(out["published_until"], T0 + 5 + 86_400);
    stack.admin(T0 + 6, &["keys", "retire", &kid]).fails(4);
}

#[tokio::test]
async fn init_creates_table_and_key_once() {
    let stack = Stack::without_table("m2m-admin-init");
    let first = stack.admin(T0, &["init", "--alg", "ES256"]).ok();
    assert_eq!(first["table_status"], "created");
    assert_eq!(first["key_status"], "created");
    let listed = stack.admin(T0, &["keys", "list"]).ok();
    assert_eq!(listed["keys"][0]["status"], "active");
    assert_eq!(listed["keys"][0]["alg"], "ES256");

    let again = stack.admin(T0 + 1, &["init"]).ok();
    assert_eq!(again["table_status"], "existed");
    assert_eq!(again["key_status"], "existed");
    assert_eq!(again["active_kid"], first["active_kid"]);
    assert_eq!(
        stack.admin(T0 + 1, &["keys", "list"]).ok()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
