//! Signing keys of a deployed stack, driven as the built binary against the local
//! emulator: `init --stack` registers the template's key (found by its alias) and
//! creates nothing in KMS; `keys create --stack` tags the key for the stack and gives
//! it the key policy that denies `kms:Sign` outside the stack's token role path (read
//! back from KMS); against AWS both refuse to run without a stack name; ES256 keys
//! come with a warning about API Gateway's JWT authorizer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use common::{Stack, T0};
use serde_json::Value;

/// A stack name no other test uses (aliases are account-wide on the shared emulator).
fn stack_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn kms(stack: &Stack) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&stack.aws.setup_sdk_config().await)
}

/// The KMS keys tagged for stack `name` (other tests create keys concurrently on the
/// shared emulator, so a total count would not do).
async fn keys_tagged(kms: &aws_sdk_kms::Client, name: &str) -> usize {
    let mut n = 0;
    let mut marker = None;
    loop {
        let out = kms
            .list_keys()
            .set_marker(marker)
            .limit(1000)
            .send()
            .await
            .unwrap();
        for key in out.keys.unwrap_or_default() {
            let id = key.key_id.unwrap();
            let tags = kms.list_resource_tags().key_id(&id).send().await.unwrap();
            if tags
                .tags
                .unwrap_or_default()
                .iter()
                .any(|t| t.tag_key == "m2m-auth:stack" && t.tag_value == name)
            {
                n += 1;
            }
        }
        marker = out.next_marker;
        if marker.is_none() {
            return n;
        }
    }
}

/// What the template makes: an RSA_2048 key tagged for `name`, behind
/// `alias/m2m-auth/<name>`. Returns its ARN.
async fn template_key(kms: &aws_sdk_kms::Client, name: &str) -> String {
    let key = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .tags(
            Tag::builder()
                .tag_key("m2m-auth:stack")
                .tag_value(name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    kms.create_alias()
        .alias_name(format!("alias/m2m-auth/{name}"))
        .target_key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    key.arn.unwrap()
}

#[tokio::test]
async fn init_registers_stack_key_without_creating_one() {
    let stack = Stack::with_table("m2m-admin-stack-init").await;
    let kms = kms(&stack).await;
    let name = stack_name("deployed");
    let arn = template_key(&kms, &name).await;
    assert_eq!(keys_tagged(&kms, &name).await, 1);

    let out = stack.admin(T0, &["init", "--stack", &name]).ok();
    assert_eq!(out["key_status"], "registered");
    assert_eq!(out["stack"], name.as_str());
    // The template leaves deletion protection off (a failed first deploy must be able
    // to delete its table); init turns it on.
    assert_eq!(out["deletion_protection"], "enabled");
    let described = stack
        .dynamo()
        .await
        .describe_table()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.table.unwrap().deletion_protection_enabled,
        Some(true)
    );
    assert_eq!(out["kms_key_id"], arn.as_str());
    assert_eq!(keys_tagged(&kms, &name).await, 1, "init created a KMS key");

    // The registered kid is the stack key's RFC 7638 thumbprint, which the JWKS then
    // publishes and the token function's fallback signs with.
    let public = m2m_aws::public_jwk(&kms, &arn).await.unwrap();
    assert_eq!(out["active_kid"], public.jwk.thumbprint().as_str());
    let listed = stack.admin(T0, &["keys", "list"]).ok();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["status"], "active");
    assert_eq!(keys[0]["kms_key_id"], arn.as_str());
    assert_eq!(keys[0]["published"], true);

    let again = stack.admin(T0 + 1, &["init", "--stack", &name]).ok();
    assert_eq!(again["key_status"], "existed");
    assert_eq!(again["deletion_protection"], "already enabled");
    assert_eq!(again["active_kid"], out["active_kid"]);
    assert_eq!(keys_tagged(&kms, &name).await, 1);
}

#[tokio::test]
async fn init_warns_when_active_key_is_for_another_stack() {
    let stack = Stack::with_table("m2m-admin-stack-other").await;
    let name = stack_name("mine");
    // What an operator who ran `init` without the stack name is left with.
    let kid = stack
        .admin(T0, &["keys", "create", "--stack", "local"])
        .ok()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .admin(T0 + 1, &["keys", "activate", &kid, "--force"])
        .ok();
    let out = stack.admin(T0 + 2, &["init", "--stack", &name]).ok();
    assert_eq!(out["key_status"], "existed");
    let warning = out["warning"].as_str().unwrap();
    assert!(
        warning.contains("tagged for stack `local`") && warning.contains(&name),
        "{warning}"
    );
    let same = stack.admin(T0 + 3, &["init", "--stack", "local"]).ok();
    assert!(same.get("warning").is_none(), "{same}");
}

#[tokio::test]
async fn init_refuses_stack_key_registered_but_not_active() {
    let stack = Stack::with_table("m2m-admin-stack-retired").await;
    let kms = kms(&stack).await;
    let name = stack_name("retired");
    template_key(&kms, &name).await;
    let kid = stack.admin(T0, &["init", "--stack", &name]).ok()["active_kid"]
        .as_str()
        .unwrap()
        .to_owned();
    stack
        .admin(T0 + 1, &["keys", "retire", &kid, "--force"])
        .ok();
    let before = stack.scan().await;
    let msg = stack.admin(T0 + 2, &["init", "--stack", &name]).fails(4);
    assert!(msg.contains("already registered"), "{msg}");
    assert_eq!(stack.scan().await, before);
}

#[tokio::test]
async fn keys_create_tags_and_guards_key_for_stack() {
    let stack = Stack::with_table("m2m-admin-stack-create").await;
    let kms = kms(&stack).await;
    let name = stack_name("prod");
    let out = stack.admin(T0, &["keys", "create", "--stack", &name]).ok();
    assert_eq!(out["stack"], name.as_str());
    assert!(
        out.get("warning").is_none(),
        "RS256 needs no warning: {out}"
    );
    let arn = out["kms_key_id"].as_str().unwrap();

    let tags = kms.list_resource_tags().key_id(arn).send().await.unwrap();
    let tags: Vec<(String, String)> = tags
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    assert_eq!(tags, vec![("m2m-auth:stack".to_owned(), name.clone())]);

    let policy = kms
        .get_key_policy()
        .key_id(arn)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let policy: Value = serde_json::from_str(&policy).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let described = kms.describe_key().key_id(arn).send().await.unwrap();
    let full_arn = described.key_metadata.unwrap().arn.unwrap();
    let account = full_arn.split(':').nth(4).unwrap();
    let admin = statements.iter().find(|s| s["Effect"] == "Allow").unwrap();
    assert_eq!(
        admin["Principal"]["AWS"],
        format!("arn:aws:iam::{account}:root")
    );
    let deny: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .collect();
    assert_eq!(deny.len(), 1, "{policy}");
    assert_eq!(deny[0]["Principal"], "*");
    assert_eq!(deny[0]["Action"], "kms:Sign");
    assert_eq!(
        deny[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        format!("arn:aws:iam::{account}:role/m2m-auth/{name}/token/*")
    );
}

#[tokio::test]
async fn stack_name_required_against_aws() {
    let stack = Stack::without_table("m2m-admin-no-stack");
    for args in [&["init"][..], &["keys", "create"][..]] {
        // No AWS_ENDPOINT_URL: AWS itself. Refused before any request is made.
        let out = stack
            .command(T0)
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        let msg = err["message"].as_str().unwrap();
        assert!(msg.contains("--stack"), "{msg}");
    }
    for bad in ["1abc", "a_b", "a/b"] {
        let msg = stack
            .admin(T0, &["keys", "create", "--stack", bad])
            .fails(2);
        assert!(msg.contains("stack name"), "{msg}");
    }
}

#[tokio::test]
async fn es256_keys_warn_about_api_gateway() {
    let stack = Stack::with_table("m2m-admin-stack-es256").await;
    let created = stack.admin(T0, &["keys", "create", "--alg", "ES256"]).ok();
    let warning = created["warning"].as_str().unwrap();
    assert!(warning.contains("API Gateway"), "{warning}");
    let kid = created["kid"].as_str().unwrap();
    let activated = stack
        .admin(T0 + 1, &["keys", "activate", kid, "--force"])
        .ok();
    assert!(activated["warning"]
        .as_str()
        .unwrap()
        .contains("RSA signatures only"));

    // The text output carries it too.
    let out = stack
        .command(T0 + 2)
        .args(["keys", "create", "--alg", "ES256"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("Warning: ES256 tokens are rejected by API Gateway"));

    let rs = stack.admin(T0 + 3, &["keys", "create"]).ok();
    let rs_kid = rs["kid"].as_str().unwrap();
    let activated = stack
        .admin(T0 + 4, &["keys", "activate", rs_kid, "--force"])
        .ok();
    assert!(activated.get("warning").is_none(), "{activated}");
}
