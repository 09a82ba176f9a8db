//! Regenerates the committed seed corpus `fuzz/seeds/<target>/` from the test fixtures:
//! `cargo run --manifest-path fuzz/Cargo.toml -p m2m-fuzz-harness --example write_seeds`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use m2m_aws::dynamo::item;
use m2m_core::basic::encode_basic;
use m2m_core::model::{KeyStatus, SigningKey};
use m2m_core::ports::Signer as _;
use m2m_core::signature::jws_to_ecdsa_der;
use m2m_core::testing::{fixtures, SoftwareSigner};
use m2m_fuzz_harness::{block_on, item_json};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = seeds_dir().join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const POST: &str = "grant_type=client_credentials&client_id=client-1&client_secret=m2m_sk_client-1-secret&audience=https%3A%2F%2Fapi.example.com";

fn request(method: &str, content_type: &str, authorization: &str, body: &str) -> Vec<u8> {
    format!("{method}\n{content_type}\n{authorization}\n{body}").into_bytes()
}

fn main() {
    let basic = encode_basic(fixtures::CLIENT_ID, fixtures::CLIENT_SECRET);
    let token_requests = [
        ("form_post", request("POST", FORM, "", POST)),
        ("form_scope", request("POST", FORM, "", &format!("{POST}&scope=read%3Aorders+write%3Aorders"))),
        ("form_resource", request("POST", &format!("{FORM}; charset=UTF-8"), "", &POST.replace("audience", "resource"))),
        ("form_basic", request("POST", FORM, &basic, "grant_type=client_credentials&client_id=client-1&audience=https%3A%2F%2Fapi.example.com&scope=read%3Aorders")),
        ("json_post", request("POST", JSON, "", r#"{"grant_type":"client_credentials","client_id":"client-1","client_secret":"m2m_sk_client-1-secret","audience":"https://api.example.com","scope":"read:orders"}"#)),
        ("json_basic", request("POST", JSON, &basic, r#"{"grant_type":"client_credentials","audience":"https://api.example.com"}"#)),
        ("json_repeated", request("POST", JSON, "", r#"{"grant_type":"client_credentials","client_id":"c","client_id":"d","client_secret":"s"}"#)),
        ("form_repeated", request("POST", FORM, "", "grant_type=client_credentials&client_id=c&client_secret=s&scope=a&scope=b")),
        ("password_grant", request("POST", FORM, "", "grant_type=password&username=u&password=p")),
        ("both_methods", request("POST", FORM, &basic, POST)),
        ("wrong_secret", request("POST", FORM, "", &POST.replace("m2m_sk_client-1-secret", "wrong"))),
        ("bad_scope", request("POST", FORM, "", &format!("{POST}&scope=a%22b"))),
        ("not_granted", request("POST", FORM, "", &format!("{POST}&scope=admin"))),
        ("fragment", request("POST", FORM, "", "grant_type=client_credentials&client_id=c&client_secret=s&resource=https%3A%2F%2Fapi%23x")),
        ("get", request("GET", FORM, "", "")),
        ("text_plain", request("POST", "text/plain", "", "x")),
        ("bearer", request("POST", FORM, "Bearer abc", "grant_type=client_credentials")),
    ];
    for (name, bytes) in token_requests {
        write("token_request", name, &bytes);
    }

    let headers = [
        ("basic", basic.clone()),
        (
            "basic_special",
            encode_basic("client:1", "a:b 100%+caf\u{e9}"),
        ),
        ("basic_lower", basic.replace("Basic", "basic")),
        ("bearer", "Bearer abc".to_owned()),
        ("not_base64", "Basic !!!".to_owned()),
        ("no_colon", "Basic bm9jb2xvbg==".to_owned()),
        ("empty_id", "Basic OnNlY3JldA==".to_owned()),
    ];
    for (name, h) in headers {
        write("basic_header", name, h.as_bytes());
    }

    let signer = SoftwareSigner::es256();
    let key = block_on(signer.active_key()).unwrap();
    for (i, input) in [&b"a.b"[..], b"header.claims", b""].iter().enumerate() {
        let jws = block_on(signer.sign(&key, input)).unwrap();
        write(
            "der_signature",
            &format!("kms_{i}"),
            &jws_to_ecdsa_der(&jws).unwrap(),
        );
    }
    // Short integers and the sign byte (from signature.rs's tests).
    write(
        "der_signature",
        "short",
        &[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07],
    );
    let mut high = vec![0x30, 0x46, 0x02, 0x21, 0x00];
    high.extend([0x80; 32]);
    high.extend([0x02, 0x21, 0x00]);
    high.extend([0x9A; 32]);
    write("der_signature", "sign_byte", &high);

    let hooks = [
        (
            "claims",
            r#"{"claims":{"tier":"gold","limits":{"rps":10}}}"#,
        ),
        ("narrow", r#"{"claims":{},"scopes":["read:orders"]}"#),
        ("widen", r#"{"scopes":["read:orders","admin"]}"#),
        (
            "deny",
            r#"{"deny":{"error_description":"customer suspended"}}"#,
        ),
        (
            "reserved",
            r#"{"claims":{"sub":"evil","scope":"admin","iss":"x","exp":9999999999,"org_id":"o","nbf":0}}"#,
        ),
        ("unknown_field", r#"{"claimz":{}}"#),
        ("array", "[1,2]"),
        ("empty", "{}"),
    ];
    for (name, json) in hooks {
        write("hook_response", name, json.as_bytes());
    }

    let api = fixtures::api(fixtures::API, fixtures::API_SCOPES);
    let mut client =
        fixtures::client_in_org(fixtures::CLIENT_ID, fixtures::CLIENT_SECRET, "org_acme");
    client.metadata.insert("tier".into(), "gold".into());
    client
        .secrets
        .push(fixtures::expiring_secret("old", fixtures::NOW + 60));
    client.secrets[0].last_used_at = Some(fixtures::NOW - 10);
    let grant = fixtures::grant(fixtures::CLIENT_ID, fixtures::API, fixtures::GRANTED_SCOPES);
    let jwk = signer.jwk();
    let signing_key = SigningKey {
        kid: signer.kid(),
        kms_key_id: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        alg: key.alg,
        status: KeyStatus::Active,
        public_jwk: jwk,
        created_at: fixtures::NOW,
        activated_at: Some(fixtures::NOW),
        retired_at: None,
    };
    let items = [
        ("api", item::api_to_item(&api)),
        (
            "auth0_api",
            item::api_to_item(&fixtures::auth0_api(fixtures::API, &["a"])),
        ),
        ("client", item::client_to_item(&client)),
        ("grant", item::grant_to_item(&grant)),
        (
            "signing_key",
            item::signing_key_to_item(&signing_key).unwrap(),
        ),
    ];
    for (name, item) in items {
        let json = serde_json::to_vec_pretty(&item_json(&item)).unwrap();
        write("dynamo_item", name, &json);
    }
    println!("seeds written to {}", seeds_dir().display());
}
