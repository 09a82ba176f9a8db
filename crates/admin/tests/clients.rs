//! The operator CLI driven as a user would drive it — the built binary, `--json` — against
//! the local AWS emulator, with tokens fetched through the token handler using the
//! secrets the CLI printed. Time moves through `M2M_ADMIN_NOW` and the handler's `now`,
//! never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{get_token, Stack, API, ISSUER, T0};
use jsonwebtoken::{decode_header, Algorithm};
use m2m_aws::dynamo::registry::DynamoKeyRegistry;
use m2m_aws::DynamoAdminStore;
use m2m_core::types::{Audience, ClientId};
use m2m_manage::{AdminStore as _, StoreError};
use m2m_testkit::jwt::{self, Expect};
use serde_json::Value;

/// Verifies `token` with `jsonwebtoken` against the public JWK the registry publishes.
async fn verify(stack: &Stack, token: &str) -> Value {
    let header = decode_header(token).unwrap();
    let keys = DynamoKeyRegistry::new(stack.dynamo().await, &stack.table)
        .list()
        .await
        .unwrap();
    let key = keys
        .iter()
        .find(|k| Some(k.kid.as_str()) == header.kid.as_deref())
        .expect("the token's kid is in the registry");
    // The clock is T0, years from now: expiry is not checked.
    let expect = Expect::new(Algorithm::RS256)
        .audience(API)
        .issuer(ISSUER)
        .any_expiry();
    jwt::verify(token, &key.public_jwk, &expect).unwrap().claims
}

#[tokio::test]
async fn customer_client_lifecycle_through_token_endpoint() {
    let stack = Stack::without_table("m2m-admin-life");
    let init = stack.admin(T0, &["init"]).ok();
    assert_eq!(init["table_status"], "created");
    assert_eq!(init["key_status"], "created");
    let (client_id, first_secret) = stack.customer(T0);
    let app = stack.token_app().await;

    // The printed secret works; the token carries the org and verifies with the JWKS key.
    let (status, body) = get_token(&app, &client_id, &first_secret, T0 + 1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read:orders");
    let claims = verify(&stack, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], client_id.as_str());
    assert_eq!(claims["org_id"], "org_acme");
    let header = decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), init["active_kid"].as_str());

    // Rotate with a one-hour grace: both secrets work during it, only the new one after.
    let rotated = stack
        .admin(
            T0 + 100,
            &["secret", "rotate", "--client", &client_id, "--grace", "1h"],
        )
        .ok();
    let second_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    assert_eq!(rotated["previous_secrets_expire_at"], T0 + 100 + 3600);
    for secret in [&first_secret, &second_secret] {
        let (status, body) = get_token(&app, &client_id, secret, T0 + 200).await;
        assert_eq!(status, 200, "{body}");
    }
    let after_grace = T0 + 100 + 3600;
    let (status, body) = get_token(&app, &client_id, &first_secret, after_grace).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _) = get_token(&app, &client_id, &second_secret, after_grace).await;
    assert_eq!(status, 200);

    // `client show` lists both secrets by id with their dates, never a secret or hash.
    let shown = stack.admin(after_grace, &["client", "show", &client_id]);
    assert!(!shown.stdout.contains(&first_secret) && !shown.stdout.contains(&second_secret));
    assert!(!shown.stdout.contains("hash"));
    let shown = shown.ok();
    let secrets = shown["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0]["expired"], true);
    assert_eq!(secrets[1]["secret_id"], rotated["secret_id"]);
    assert_eq!(secrets[1]["expired"], false);
    assert_eq!(shown["grants"][0]["api"], API);

    // Disabled: invalid_client, exactly like an unknown client. Enabled again: works.
    stack
        .admin(after_grace, &["client", "disable", &client_id])
        .ok();
    let (status, body) = get_token(&app, &client_id, &second_secret, after_grace).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    stack
        .admin(after_grace, &["client", "enable", &client_id])
        .ok();
    let (status, _) = get_token(&app, &client_id, &second_secret, after_grace).await;
    assert_eq!(status, 200);

    // Deleted: the client and every grant item are gone.
    let deleted = stack
        .admin(after_grace, &["client", "delete", &client_id])
        .ok();
    assert_eq!(deleted["grants_deleted"], 1);
    let prefix = format!("CLIENT#{client_id}");
    let left: Vec<_> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i["PK"].as_s().unwrap() == &prefix)
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let (status, _) = get_token(&app, &client_id, &second_secret, after_grace).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn bad_input_refused_with_clear_message_and_table_unchanged() {
    let stack = Stack::with_table("m2m-admin-bad").await;
    let (client_id, _) = stack.customer(T0);
    let before = stack.scan().await;

    let unknown_api = stack
        .admin(
            T0,
            &[
                "grant",
                "add",
                "--client",
                &client_id,
                "--api",
                "https://nope.example.com",
                "--scopes",
                "read:orders",
            ],
        )
        .fails(3);
    assert!(
        unknown_api.contains("API https://nope.example.com not found"),
        "{unknown_api}"
    );
    assert!(unknown_api.contains("api create"), "{unknown_api}");

    let undefined_scope = stack
        .admin(
            T0,
            &[
                "grant",
                "add",
                "--client",
                &client_id,
                "--api",
                API,
                "--scopes",
                "read:orders,admin",
            ],
        )
        .fails(2);
    assert!(
        undefined_scope.contains("does not define the scope(s) admin"),
        "{undefined_scope}"
    );
    assert!(
        undefined_scope.contains("read:orders write:orders"),
        "{undefined_scope}"
    );

    let duplicate = stack
        .admin(
            T0,
            &["api", "create", "--identifier", API, "--scopes", "other"],
        )
        .fails(4);
    assert!(duplicate.contains("already exists"), "{duplicate}");

    for args in [
        &[
            "grant",
            "add",
            "--client",
            "no-such-client",
            "--api",
            API,
            "--scopes",
            "read:orders",
        ][..],
        &["client", "show", "no-such-client"],
        &["client", "disable", "no-such-client"],
        &["client", "delete", "no-such-client"],
        &["secret", "rotate", "--client", "no-such-client"],
        &["grant", "list", "--client", "no-such-client"],
    ] {
        let missing = stack.admin(T0, args).fails(3);
        assert!(
            missing.contains("client no-such-client not found"),
            "{args:?}: {missing}"
        );
    }

    let no_secret = stack
        .admin(
            T0,
            &[
                "secret",
                "revoke",
                "--client",
                &client_id,
                "--secret-id",
                "sec_nope",
            ],
        )
        .fails(3);
    assert!(no_secret.contains("has no secret sec_nope"), "{no_secret}");

    let api_in_use = stack.admin(T0, &["api", "delete", API]).fails(4);
    assert!(
        api_in_use.contains(&client_id) && api_in_use.contains("--force"),
        "{api_in_use}"
    );

    // Input clap refuses never reaches the table either (exit 2, usage on stderr).
    let too_long = stack.admin(
        T0,
        &[
            "api",
            "create",
            "--identifier",
            "https://x",
            "--scopes",
            "a",
            "--token-lifetime",
            "86401",
        ],
    );
    assert_eq!(too_long.code, 2);

    assert_eq!(
        stack.scan().await,
        before,
        "refused commands changed the table"
    );
}

#[tokio::test]
async fn api_delete_forced_removes_grants_and_bumps_client_version() {
    let stack = Stack::with_table("m2m-admin-apidel").await;
    let (client_id, _) = stack.customer(T0);
    let version = stack.admin(T0, &["client", "show", &client_id]).ok()["version"]
        .as_u64()
        .unwrap();
    let out = stack.admin(T0, &["api", "delete", API, "--force"]).ok();
    assert_eq!(out["grants_deleted"][0], client_id.as_str());
    let shown = stack.admin(T0, &["client", "show", &client_id]).ok();
    assert_eq!(shown["grants"].as_array().unwrap().len(), 0);
    assert_eq!(shown["version"].as_u64().unwrap(), version + 1);
    assert_eq!(
        stack.admin(T0, &["api", "list"]).ok()["apis"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn grants_extend_narrow_and_every_client_write_bumps_version() {
    let stack = Stack::with_table("m2m-admin-grants").await;
    let (client_id, _) = stack.customer(T0);
    let version = |s: &Stack| {
        s.admin(T0, &["client", "show", &client_id]).ok()["version"]
            .as_u64()
            .unwrap()
    };
    let v0 = version(&stack);
    let added = stack
        .admin(
            T0,
            &[
                "grant",
                "add",
                "--client",
                &client_id,
                "--api",
                API,
                "--scopes",
                "write:orders",
            ],
        )
        .ok();
    assert_eq!(
        added["scopes"],
        serde_json::json!(["read:orders", "write:orders"])
    );
    assert_eq!(version(&stack), v0 + 1);
    let narrowed = stack
        .admin(
            T0,
            &[
                "grant",
                "remove",
                "--client",
                &client_id,
                "--api",
                API,
                "--scopes",
                "read:orders",
            ],
        )
        .ok();
    assert_eq!(narrowed["scopes"], serde_json::json!(["write:orders"]));
    assert_eq!(version(&stack), v0 + 2);
    let listed = stack
        .admin(T0, &["grant", "list", "--client", &client_id])
        .ok();
    assert_eq!(
        listed["grants"][0]["scopes"],
        serde_json::json!(["write:orders"])
    );
    stack
        .admin(
            T0,
            &["grant", "remove", "--client", &client_id, "--api", API],
        )
        .ok();
    assert_eq!(version(&stack), v0 + 3);
    let listed = stack
        .admin(T0, &["grant", "list", "--client", &client_id])
        .ok();
    assert_eq!(listed["grants"].as_array().unwrap().len(), 0);
    // Removing a grant that is not there is "not found", not a silent success.
    stack
        .admin(
            T0,
            &["grant", "remove", "--client", &client_id, "--api", API],
        )
        .fails(3);
}

/// The interleaving two concurrent operators produce — one reads, the other writes, the
/// first writes back what it read — made deterministic: every stale write is refused by
/// its version condition and changes nothing. (Real concurrency is not tested here:
/// moto's threaded server does not serialize conditional writes as DynamoDB does, so a
/// race there would test moto, not this code.)
#[tokio::test]
async fn stale_writes_refused_and_change_nothing() {
    let stack = Stack::with_table("m2m-admin-stale").await;
    let (client_id, _) = stack.customer(T0);
    let store = DynamoAdminStore::new(stack.dynamo().await, &stack.table);
    let id = ClientId::new(client_id.as_str());
    let audience = Audience::new(API);
    let stale_client = store.get_client(&id).await.unwrap().unwrap();
    let stale_api = store.get_api(&audience).await.unwrap().unwrap();
    let grants = store.client_grants(&id).await.unwrap();

    // Another operator rotates the secret (client version +1) and adds a grant scope
    // (client and API versions +1).
    stack
        .admin(T0 + 1, &["secret", "rotate", "--client", &client_id])
        .ok();
    stack
        .admin(
            T0 + 1,
            &[
                "grant",
                "add",
                "--client",
                &client_id,
                "--api",
                API,
                "--scopes",
                "write:orders",
            ],
        )
        .ok();
    let after = stack.scan().await;

    let mut overwrite = stale_client.clone();
    overwrite.name = "lost update".into();
    overwrite.version = stale_client.version + 1;
    let conflict =
        |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    conflict(store.replace_client(&overwrite, stale_client.version).await);
    conflict(
        store
            .put_grant(&grants[0], stale_client.version, stale_api.version)
            .await,
    );
    conflict(
        store
            .delete_grant(&id, &audience, stale_client.version)
            .await,
    );
    conflict(
        store
            .delete_client(&id, stale_client.version, &grants)
            .await,
    );
    conflict(store.delete_api(&audience, stale_api.version, &[]).await);
    conflict(store.create_client(&stale_client, &[]).await);
    conflict(store.create_api(&stale_api.value).await);
    assert_eq!(
        stack.scan().await,
        after,
        "a refused write changed the table"
    );

    // The CLI's own read-modify-write starts from a fresh read and succeeds.
    stack.admin(T0 + 2, &["client", "disable", &client_id]).ok();
}

#[tokio::test]
async fn client_list_filters_by_org_and_revoke_stops_secret() {
    let stack = Stack::with_table("m2m-admin-list").await;
    let (acme, secret) = stack.customer(T0);
    stack
        .admin(
            T0,
            &[
                "client",
                "create",
                "--name",
                "Globex backend",
                "--org",
                "org_globex",
            ],
        )
        .ok();
    let all = stack.admin(T0, &["client", "list"]).ok();
    assert_eq!(all["clients"].as_array().unwrap().len(), 2);
    let only = stack
        .admin(T0, &["client", "list", "--org", "org_acme"])
        .ok();
    let only = only["clients"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["client_id"], acme.as_str());
    assert_eq!(only[0]["metadata"]["tier"], "gold");
    assert!(!serde_json::to_string(&all).unwrap().contains(&secret));

    stack.admin(T0, &["init"]).ok();
    let app = stack.token_app().await;
    assert_eq!(get_token(&app, &acme, &secret, T0).await.0, 200);
    let sid = only[0]["secrets"][0]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .admin(
            T0,
            &["secret", "revoke", "--client", &acme, "--secret-id", &sid],
        )
        .ok();
    assert_eq!(get_token(&app, &acme, &secret, T0).await.0, 401);
}

#[test]
fn help_reads_well_and_missing_table_is_explained() {
    let stack = Stack::without_table("m2m-admin-help");
    let help = |args: &[&str]| {
        let out = stack.command(T0).args(args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    for word in [
        "api",
        "client",
        "grant",
        "secret",
        "keys",
        "init",
        "M2M_TABLE",
        "Exit status",
    ] {
        assert!(top.contains(word), "top-level help lacks {word}");
    }
    assert!(help(&["client", "create"]).contains("shown only once"));
    assert!(help(&["secret", "rotate"]).contains("[default: 24h]"));
    assert!(help(&["api", "create"]).contains("at most 86400"));
    assert!(help(&["keys", "activate"]).contains("--force"));
    assert!(help(&["grant", "add"]).contains("must be defined by the API"));

    let out = stack
        .command(T0)
        .env_remove("M2M_TABLE")
        .args(["client", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("set M2M_TABLE or pass --table"));
}
