//! Concurrency: 50 `m2m-admin` processes at once — 25 `secret rotate` and
//! 25 `grant add` — on the same client, against a single-threaded emulator (moto's
//! threaded server does not serialize conditional writes; DynamoDB does). No update
//! may be lost: every command that reported success is in the final item (its secret's
//! hash stored, its scope granted) and the client's version grew by exactly the number
//! of successes; every command that gave up did so with a well-formed error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::{Stack, T0};
use m2m_core::secret::hash_secret;
use m2m_core::types::ClientSecret;
use m2m_testkit::LocalAws;
use serde_json::Value;

const PER_KIND: usize = 25;
const API2: &str = "https://api.example.com/inventory";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotate_and_grant_add_lose_no_update() {
    let aws: &'static LocalAws = Box::leak(Box::new(LocalAws::start_single_threaded().unwrap()));
    let table = aws.create_table("admin-race").await.unwrap();
    let stack = Stack { aws, table };
    let (client, first_secret) = stack.customer(T0);
    let scopes: Vec<String> = (0..PER_KIND).map(|i| format!("s{i}")).collect();
    stack
        .admin(
            T0,
            &[
                "api",
                "create",
                "--identifier",
                API2,
                "--scopes",
                &scopes.join(","),
                "--name",
                "Inventory",
            ],
        )
        .ok();
    let version_before = stack.admin(T0, &["client", "show", &client]).ok()["version"]
        .as_u64()
        .unwrap();

    // Start all 50 before waiting on any.
    let mut children = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        for rotate in [true, false] {
            let mut cmd = stack.command(T0);
            cmd.arg("--json");
            if rotate {
                cmd.args(["secret", "rotate", "--client", &client]);
            } else {
                cmd.args([
                    "grant", "add", "--client", &client, "--api", API2, "--scopes", scope,
                ]);
            }
            let child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            children.push((rotate, i, child));
        }
    }
    let mut rotated: Vec<(String, String)> = Vec::new(); // (secret_id, secret)
    let mut granted: BTreeSet<String> = BTreeSet::new();
    let mut gave_up = 0;
    for (rotate, i, child) in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        if out.status.success() {
            let doc: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("malformed success output ({e}): {stdout}"));
            if rotate {
                rotated.push((
                    doc["secret_id"].as_str().unwrap().to_owned(),
                    doc["client_secret"].as_str().unwrap().to_owned(),
                ));
            } else {
                assert!(
                    doc["scopes"]
                        .to_string()
                        .contains(&format!("\"{}\"", scopes[i])),
                    "{doc}"
                );
                granted.insert(scopes[i].clone());
            }
        } else {
            // Gave up after its retries: exit 4 (refused), a JSON error, nothing on stdout.
            assert_eq!(
                out.status.code(),
                Some(4),
                "stdout {stdout} stderr {stderr}"
            );
            assert!(stdout.is_empty(), "{stdout}");
            let err: Value = serde_json::from_str(stderr.trim())
                .unwrap_or_else(|e| panic!("malformed error output ({e}): {stderr}"));
            assert!(
                err["message"].as_str().unwrap().contains("kept changing"),
                "{err}"
            );
            gave_up += 1;
        }
    }
    eprintln!(
        "{} rotations and {} grant additions succeeded, {gave_up} gave up on conflicts",
        rotated.len(),
        granted.len()
    );
    assert!(
        !rotated.is_empty() && !granted.is_empty(),
        "some of each succeed"
    );

    // The final state holds every success.
    let items = stack.scan().await;
    let client_item = items
        .iter()
        .find(|i| {
            i["PK"].as_s().unwrap() == &format!("CLIENT#{client}")
                && i["SK"].as_s().unwrap() == "CLIENT"
        })
        .unwrap();
    let stored = m2m_aws::dynamo::item::client_from_item(client_item).unwrap();
    for (id, secret) in &rotated {
        let s = stored
            .secrets
            .iter()
            .find(|s| s.id.as_str() == id)
            .unwrap_or_else(|| panic!("rotation {id} was lost"));
        assert_eq!(
            s.hash,
            hash_secret(&ClientSecret::new(secret.as_str())),
            "{id}"
        );
    }
    assert_eq!(
        stored.secrets.len(),
        rotated.len() + 1,
        "the first secret kept too"
    );
    assert!(stored
        .secrets
        .iter()
        .any(|s| s.hash == hash_secret(&ClientSecret::new(first_secret.as_str()))));
    let grant = items
        .iter()
        .find(|i| {
            i["PK"].as_s().unwrap() == &format!("CLIENT#{client}")
                && i["SK"].as_s().unwrap() == &format!("GRANT#{API2}")
        })
        .map(|i| m2m_aws::dynamo::item::grant_from_item(i).unwrap())
        .unwrap();
    let final_scopes: BTreeSet<String> =
        grant.scopes.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(
        final_scopes, granted,
        "every granted scope and nothing else"
    );
    assert_eq!(
        stored.version,
        version_before + rotated.len() as u64 + granted.len() as u64,
        "each success bumped the version once: no write was lost or doubled"
    );
}
