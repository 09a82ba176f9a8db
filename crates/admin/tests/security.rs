//! `m2m-admin` commands that close security gaps, driven as the built binary against
//! the local emulator: `keys revoke` (the compromise procedure), the token reuse
//! settings of `api create`/`api update`, `--remove-scopes` refusing or cascading to
//! grants, and `api delete --force` finishing after an interruption.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{key, Stack, API, T0};
use m2m_aws::{dynamo::item, DynamoAdminStore};
use m2m_core::model::{Client, ClientStatus, Grant};
use m2m_core::types::{Audience, ClientId, ScopeSet};
use m2m_manage::AdminStore as _;
use serde_json::Value;

#[tokio::test]
async fn keys_revoke_unpublishes_and_promotes_pending() {
    let stack = Stack::with_table("m2m-admin-revoke").await;
    let k1 = stack.admin(T0, &["keys", "create", "--alg", "ES256"]).ok()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    stack.admin(T0, &["keys", "activate", &k1, "--force"]).ok();

    // The active key with nothing to take over: refused, unchanged.
    let before = stack.scan().await;
    let refused = stack.admin(T0 + 1, &["keys", "revoke", &k1]).fails(4);
    assert!(
        refused.contains("--force") && refused.contains("--activate"),
        "{refused}"
    );
    assert_eq!(stack.scan().await, before);

    // A pending key ready: revoking the active key activates it in the same step.
    let k2 = stack
        .admin(T0 + 2, &["keys", "create", "--alg", "RS256"])
        .ok()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = stack.admin(T0 + 3, &["keys", "revoke", &k1]).ok();
    assert_eq!(revoked["revoked"], k1.as_str());
    assert_eq!(revoked["activated"], k2.as_str());
    let listed = stack.admin(T0 + 3, &["keys", "list"]).ok();
    assert_eq!(key(&listed, &k1)["status"], "revoked");
    assert_eq!(key(&listed, &k1)["published"], false);
    assert_eq!(key(&listed, &k2)["status"], "active");

    // A revoked key never comes back, and revoking again changes nothing.
    let again = stack
        .admin(T0 + 4, &["keys", "activate", &k1, "--force"])
        .fails(4);
    assert!(again.contains("revoked"), "{again}");
    stack.admin(T0 + 4, &["keys", "retire", &k1]).fails(4);
    stack.admin(T0 + 5, &["keys", "revoke", &k1]).ok();

    // --force: the last active key revoked, no key signs until one is activated.
    let forced = stack
        .admin(T0 + 6, &["keys", "revoke", &k2, "--force"])
        .ok();
    assert_eq!(forced["activated"], Value::Null);
    let listed = stack.admin(T0 + 6, &["keys", "list"]).ok();
    assert_eq!(key(&listed, &k2)["status"], "revoked");
}

#[tokio::test]
async fn api_reuse_settings_created_and_updated() {
    let stack = Stack::with_table("m2m-admin-reuse").await;
    let created = stack
        .admin(
            T0,
            &[
                "api",
                "create",
                "--identifier",
                API,
                "--scopes",
                "read:orders",
                "--reuse",
                "off",
            ],
        )
        .ok();
    assert_eq!(created["reuse"]["enabled"], false);
    let updated = stack
        .admin(
            T0,
            &[
                "api",
                "update",
                API,
                "--reuse",
                "on",
                "--reuse-min-remaining",
                "80",
                "--reuse-with-hook",
            ],
        )
        .ok();
    assert_eq!(updated["reuse"]["enabled"], true);
    assert_eq!(updated["reuse"]["min_remaining_pct"], 80);
    assert_eq!(updated["reuse"]["with_hook"], true);
    // Stored where the token function reads it.
    let item = stack
        .dynamo()
        .await
        .get_item()
        .table_name(&stack.table)
        .set_key(Some(item::api_key(&Audience::new(API))))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let api = item::api_from_item(&item).unwrap();
    assert_eq!(
        api.reuse,
        m2m_core::model::Reuse::On {
            min_remaining_pct: 80,
            with_hook: true
        }
    );
    let off = stack
        .admin(T0, &["api", "update", API, "--reuse-with-hook", "off"])
        .ok();
    assert_eq!(off["reuse"]["with_hook"], false);
    assert_eq!(off["reuse"]["min_remaining_pct"], 80);
    let out_of_range = stack.admin(T0, &["api", "update", API, "--reuse-min-remaining", "100"]);
    assert_eq!(out_of_range.code, 2, "{}", out_of_range.stderr);
    // The default is on at 50 %, not with a hook.
    let default = stack
        .admin(
            T0,
            &[
                "api",
                "create",
                "--identifier",
                "https://b.example.com",
                "--scopes",
                "x",
            ],
        )
        .ok();
    assert_eq!(default["reuse"]["enabled"], true);
    assert_eq!(default["reuse"]["min_remaining_pct"], 50);
    assert_eq!(default["reuse"]["with_hook"], false);
}

fn grant_scopes(stack_grants: &Value) -> Vec<String> {
    stack_grants["grants"][0]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn removed_scope_refused_while_granted_or_cascaded() {
    let stack = Stack::with_table("m2m-admin-rmscope").await;
    let (client_id, _) = stack.customer(T0);
    stack
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
                "read:orders,write:orders",
            ],
        )
        .ok();
    let before = stack.scan().await;
    let refused = stack
        .admin(
            T0,
            &["api", "update", API, "--remove-scopes", "write:orders"],
        )
        .fails(4);
    assert!(
        refused.contains(&client_id) && refused.contains("--cascade"),
        "{refused}"
    );
    assert_eq!(stack.scan().await, before);

    let done = stack
        .admin(
            T0,
            &[
                "api",
                "update",
                API,
                "--remove-scopes",
                "write:orders",
                "--cascade",
            ],
        )
        .ok();
    assert_eq!(done["grants_updated"][0], client_id.as_str());
    let shown = stack.admin(T0, &["api", "show", API]).ok();
    assert_eq!(grant_scopes(&shown), ["read:orders"]);

    // Adding the scope back does not silently re-grant it.
    stack
        .admin(T0, &["api", "update", API, "--add-scopes", "write:orders"])
        .ok();
    let shown = stack.admin(T0, &["api", "show", API]).ok();
    assert_eq!(grant_scopes(&shown), ["read:orders"]);
}

#[tokio::test]
async fn api_delete_force_interrupted_then_resumed() {
    let stack = Stack::with_table("m2m-admin-delresume").await;
    stack
        .admin(
            T0,
            &[
                "api",
                "create",
                "--identifier",
                API,
                "--scopes",
                "read:orders",
            ],
        )
        .ok();
    let dynamo = stack.dynamo().await;
    let scopes = ScopeSet::parse("read:orders").unwrap();
    let mut grants = Vec::new();
    for i in 0..60 {
        let id = ClientId::new(format!("client{i:03}"));
        let client = Client {
            id: id.clone(),
            name: format!("c{i}"),
            org_id: None,
            status: ClientStatus::Active,
            metadata: Default::default(),
            secrets: vec![],
            keys: Vec::new(),
            jwks_uri: None,
            quota: None,
            org_quota: None,
            not_before: None,
            revocation_epoch: 0,
            introspect: false,
            version: 1,
        };
        let grant = Grant {
            client_id: id,
            audience: Audience::new(API),
            scopes: scopes.clone(),
        };
        for item in [item::client_to_item(&client), item::grant_to_item(&grant)] {
            dynamo
                .put_item()
                .table_name(&stack.table)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        }
        grants.push(grant);
    }
    // An interruption after the first transaction: a grant of a client that does not
    // exist makes the second (last) transaction fail.
    let mut with_ghost = grants.clone();
    with_ghost.insert(
        55,
        Grant {
            client_id: ClientId::new("ghost"),
            audience: Audience::new(API),
            scopes,
        },
    );
    let store = DynamoAdminStore::new(dynamo.clone(), &stack.table);
    let current = store.get_api(&Audience::new(API)).await.unwrap().unwrap();
    assert!(store
        .delete_api(&Audience::new(API), current.version, &with_ghost)
        .await
        .is_err());
    // Never grants of a deleted API: the API is still there, with what is left.
    let shown = stack.admin(T0, &["api", "show", API]).ok();
    let left = shown["grants"].as_array().unwrap().len();
    assert!(left > 0 && left < 60, "{left} grants left");

    // Running the command again finishes the deletion.
    let done = stack.admin(T0, &["api", "delete", API, "--force"]).ok();
    assert_eq!(done["grants_deleted"].as_array().unwrap().len(), left);
    let remaining: Vec<_> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| {
            matches!(i.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with("GRANT#") || sk == "API")
        })
        .collect();
    assert!(remaining.is_empty(), "{remaining:?}");
}
