//! Tests of [`super`]: the RFC 7638 example, SPKI parsing of every key shape we
//! accept or refuse, and JWKS publication.

use super::*;
use crate::model::{KeyStatus, SigningKey, MAX_TOKEN_LIFETIME};

/// RFC 7638 §3.1 example key.
const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

fn rfc7638_jwk() -> Jwk {
    Jwk {
        kty: "RSA".into(),
        kid: Some(Kid::new("2011-04-29")),
        use_: None,
        alg: Some("RS256".into()),
        n: Some(RFC7638_N.into()),
        e: Some("AQAB".into()),
        crv: None,
        x: None,
        y: None,
    }
}

/// DER length octets (X.690 §8.1.3).
fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn oid(dotted: &str) -> Vec<u8> {
    let o = ObjectIdentifier::new(dotted).unwrap();
    tlv(0x06, o.as_bytes())
}

/// A SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { alg, params }, BIT STRING }.
fn spki(alg: &[u8], params: &[u8], key: &[u8]) -> Vec<u8> {
    let mut algid = alg.to_vec();
    algid.extend_from_slice(params);
    let mut bits = vec![0u8];
    bits.extend_from_slice(key);
    let mut body = tlv(0x30, &algid);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let mut c = Vec::new();
        if v[0] & 0x80 != 0 {
            c.push(0);
        }
        c.extend_from_slice(v);
        tlv(0x02, &c)
    };
    let mut seq = int(n);
    seq.extend(int(e));
    let pkcs1 = tlv(0x30, &seq);
    spki(&oid("1.2.840.113549.1.1.1"), &[0x05, 0x00], &pkcs1)
}

fn p256_point() -> Vec<u8> {
    // The generator G of P-256 (SEC 2 §2.4.2), a valid public point.
    let mut p = vec![0x04];
    p.extend(hex(
        "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296",
    ));
    p.extend(hex(
        "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5",
    ));
    p
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rfc7638_example_thumbprint_matches() {
    assert_eq!(
        rfc7638_jwk().thumbprint().as_str(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn thumbprint_ignores_optional_members() {
    let mut jwk = rfc7638_jwk();
    let before = jwk.thumbprint();
    jwk.kid = None;
    jwk.use_ = Some("sig".into());
    jwk.alg = None;
    assert_eq!(jwk.thumbprint(), before);
}

#[test]
fn rfc7638_example_from_spki_same_kid() {
    let n = URL_SAFE_NO_PAD.decode(RFC7638_N).unwrap();
    let der = rsa_spki(&n, &[1, 0, 1]);
    let jwk = Jwk::from_spki_der(&der).unwrap();
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.n.as_deref(), Some(RFC7638_N));
    assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    assert_eq!(jwk.alg.as_deref(), Some("RS256"));
    assert_eq!(jwk.use_.as_deref(), Some("sig"));
    assert_eq!(
        jwk.kid.as_ref().map(Kid::as_str),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    assert_eq!(jwk.algorithm(), Some(Alg::RS256));
}

#[test]
fn rsa_spki_sign_byte_stripped() {
    // A modulus with the high bit set is encoded with a 0x00 sign byte in DER.
    let n = [0xC0u8; 256];
    let jwk = Jwk::from_spki_der(&rsa_spki(&n, &[1, 0, 1])).unwrap();
    let decoded = URL_SAFE_NO_PAD.decode(jwk.n.unwrap()).unwrap();
    assert_eq!(decoded, n);
}

#[test]
fn p256_spki_builds_ec_jwk() {
    let der = spki(
        &oid("1.2.840.10045.2.1"),
        &oid("1.2.840.10045.3.1.7"),
        &p256_point(),
    );
    let jwk = Jwk::from_spki_der(&der).unwrap();
    assert_eq!(jwk.kty, "EC");
    assert_eq!(jwk.crv.as_deref(), Some("P-256"));
    assert_eq!(jwk.alg.as_deref(), Some("ES256"));
    let x = URL_SAFE_NO_PAD.decode(jwk.x.as_ref().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk.y.as_ref().unwrap()).unwrap();
    assert_eq!((x.len(), y.len()), (32, 32));
    assert_eq!(x, p256_point()[1..33]);
    assert_eq!(jwk.kid, Some(jwk.thumbprint()));
    assert!(jwk.n.is_none() && jwk.e.is_none());
}

#[test]
fn p256_spki_matches_p256_crate_encoding() {
    use p256::pkcs8::EncodePublicKey as _;
    let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let der = sk.public_key().to_public_key_der().unwrap();
    let jwk = Jwk::from_spki_der(der.as_bytes()).unwrap();
    let point = sk.public_key().to_encoded_point(false);
    assert_eq!(jwk.x, Some(URL_SAFE_NO_PAD.encode(point.x().unwrap())));
    assert_eq!(jwk.y, Some(URL_SAFE_NO_PAD.encode(point.y().unwrap())));
}

#[test]
fn ec_thumbprint_member_order_lexicographic() {
    let jwk = Jwk {
        kty: "EC".into(),
        kid: None,
        use_: None,
        alg: None,
        n: None,
        e: None,
        crv: Some("P-256".into()),
        x: Some("X".into()),
        y: Some("Y".into()),
    };
    let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
        br#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#,
    ));
    assert_eq!(jwk.thumbprint().as_str(), expected);
}

#[test]
fn p384_curve_unsupported() {
    let der = spki(&oid("1.2.840.10045.2.1"), &oid("1.3.132.0.34"), &[0x04; 97]);
    assert!(matches!(
        Jwk::from_spki_der(&der),
        Err(JwkError::Unsupported(_))
    ));
}

#[test]
fn ed25519_key_unsupported() {
    let der = spki(&oid("1.3.101.112"), &[], &[7u8; 32]);
    assert!(matches!(
        Jwk::from_spki_der(&der),
        Err(JwkError::Unsupported(_))
    ));
}

#[test]
fn p256_point_off_curve_malformed() {
    let mut point = p256_point();
    point[64] ^= 1;
    let der = spki(
        &oid("1.2.840.10045.2.1"),
        &oid("1.2.840.10045.3.1.7"),
        &point,
    );
    assert!(matches!(
        Jwk::from_spki_der(&der),
        Err(JwkError::Malformed(_))
    ));
}

#[test]
fn ec_without_curve_malformed() {
    let der = spki(&oid("1.2.840.10045.2.1"), &[], &p256_point());
    assert!(matches!(
        Jwk::from_spki_der(&der),
        Err(JwkError::Malformed(_))
    ));
}

#[test]
fn rsa_garbage_key_malformed() {
    let der = spki(
        &oid("1.2.840.113549.1.1.1"),
        &[0x05, 0x00],
        &[0x30, 0x03, 1, 2, 3],
    );
    assert!(matches!(
        Jwk::from_spki_der(&der),
        Err(JwkError::Malformed(_))
    ));
}

#[test]
fn garbage_input_malformed_never_panics() {
    let valid = rsa_spki(&[0xC0u8; 256], &[1, 0, 1]);
    let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0x30], vec![0xff; 40], b"hello".to_vec()];
    // Every truncation of a valid key.
    inputs.extend((0..valid.len()).map(|i| valid[..i].to_vec()));
    for input in inputs {
        assert!(Jwk::from_spki_der(&input).is_err());
    }
    // Trailing bytes after the SPKI are rejected too.
    let mut trailing = valid;
    trailing.push(0);
    assert!(matches!(
        Jwk::from_spki_der(&trailing),
        Err(JwkError::Malformed(_))
    ));
}

#[test]
fn jwk_serializes_use_and_skips_absent_members() {
    let n = URL_SAFE_NO_PAD.decode(RFC7638_N).unwrap();
    let jwk = Jwk::from_spki_der(&rsa_spki(&n, &[1, 0, 1])).unwrap();
    let v = serde_json::to_value(&jwk).unwrap();
    assert_eq!(v["use"], "sig");
    assert!(v.get("crv").is_none() && v.get("use_").is_none());
    let back: Jwk = serde_json::from_value(v).unwrap();
    assert_eq!(back, jwk);
}

/// A key named `name`: a distinct RSA JWK (its `e` is the name) whose `kid` is its
/// thumbprint, as the registry requires.
fn key(name: &str, status: KeyStatus, retired_at: Option<u64>) -> SigningKey {
    let mut jwk = rfc7638_jwk();
    jwk.e = Some(name.to_owned());
    let kid = jwk.thumbprint();
    jwk.kid = Some(kid.clone());
    SigningKey {
        kid,
        kms_key_id: "k".into(),
        alg: Alg::RS256,
        status,
        public_jwk: jwk,
        created_at: 0,
        activated_at: None,
        retired_at,
    }
}

fn kid(name: &str) -> Kid {
    key(name, KeyStatus::Active, None).kid
}

#[test]
fn published_drops_long_retired_keys() {
    let now = 1_000_000;
    let keys = [
        key("old", KeyStatus::Retired, Some(now - MAX_TOKEN_LIFETIME)),
        key("recent", KeyStatus::Retired, Some(now - 10)),
        key("next", KeyStatus::Pending, None),
        key("cur", KeyStatus::Active, None),
    ];
    let set = JwkSet::published(&keys, now);
    let kids: Vec<_> = set.keys.iter().filter_map(|k| k.kid.clone()).collect();
    assert_eq!(kids, [kid("cur"), kid("next"), kid("recent")]);
    assert!(set.find(&kid("recent")).is_some());
    assert!(set.find(&kid("old")).is_none());
}

#[test]
fn revoked_key_never_published() {
    let now = 1_000_000;
    let keys = [
        key("cur", KeyStatus::Active, None),
        key("gone", KeyStatus::Revoked, None),
        key("gone-too", KeyStatus::Revoked, Some(now - 1)),
    ];
    let set = JwkSet::published(&keys, now);
    assert_eq!(set.keys.len(), 1);
    assert!(set.find(&kid("gone")).is_none());
}

#[test]
fn kid_not_thumbprint_not_published() {
    // A registry item naming someone else's key under a kid of its choosing, or a
    // JWK whose members were swapped after the kid was computed.
    let now = 1_000_000;
    let mut forged = key("attacker", KeyStatus::Active, None);
    forged.kid = kid("cur");
    forged.public_jwk.kid = Some(kid("cur"));
    let mut swapped = key("next", KeyStatus::Pending, None);
    swapped.public_jwk.n = Some("AQAB".into());
    let mut disagreeing = key("third", KeyStatus::Pending, None);
    disagreeing.public_jwk.kid = Some(Kid::new("other"));
    let mut no_members = key("fourth", KeyStatus::Pending, None);
    no_members.public_jwk.n = None;
    no_members.kid = no_members.public_jwk.thumbprint();
    no_members.public_jwk.kid = Some(no_members.kid.clone());
    let good = key("good", KeyStatus::Pending, None);
    let set = JwkSet::published(
        &[forged, swapped, disagreeing, no_members, good.clone()],
        now,
    );
    assert_eq!(set.keys, vec![good.public_jwk]);
}

#[test]
fn publishes_agrees_with_published_key_by_key() {
    let now = 1_000_000;
    let mut forged = key("attacker", KeyStatus::Active, None);
    forged.kid = kid("cur");
    let keys = [
        key("old", KeyStatus::Retired, Some(now - MAX_TOKEN_LIFETIME)),
        key("recent", KeyStatus::Retired, Some(now - 10)),
        key("undated", KeyStatus::Retired, None),
        key("next", KeyStatus::Pending, None),
        key("cur", KeyStatus::Active, None),
        key("gone", KeyStatus::Revoked, None),
        forged,
    ];
    let set = JwkSet::published(&keys, now);
    for k in &keys {
        assert_eq!(
            JwkSet::publishes(k, now),
            set.keys.contains(&k.public_jwk),
            "{:?}",
            k.kid
        );
    }
    assert_eq!(keys.iter().filter(|k| JwkSet::publishes(k, now)).count(), 4);
}
