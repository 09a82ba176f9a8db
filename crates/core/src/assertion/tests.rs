#![allow(clippy::unwrap_used, clippy::panic)]
use proptest::prelude::*;
use serde_json::json;

use super::*;

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn jwt(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!("{}.{}.c2ln", b64(header), b64(claims))
}

fn claims() -> serde_json::Value {
    json!({"iss": "c", "sub": "c", "aud": "https://a", "exp": 1000, "iat": 900, "jti": "j"})
}

#[test]
fn parses_header_and_claims() {
    let a = Assertion::parse(&jwt(&json!({"alg": "ES256", "kid": "k1"}), &claims())).unwrap();
    assert_eq!(a.header.alg, "ES256");
    assert_eq!(a.header.kid.as_deref(), Some("k1"));
    assert_eq!(a.claims.aud, vec!["https://a"]);
    assert_eq!(
        (a.claims.exp, a.claims.iat, a.claims.nbf),
        (1000, Some(900), None)
    );
    assert_eq!(a.claims.jti.as_deref(), Some("j"));
    assert!(a.claims.other.is_empty());
}

#[test]
fn audience_array_and_fractional_times() {
    let mut c = claims();
    c["aud"] = json!(["x", "https://a"]);
    c["exp"] = json!(1000.75);
    let a = Assertion::parse(&jwt(&json!({"alg": "RS256"}), &c)).unwrap();
    assert_eq!(a.claims.aud.len(), 2);
    assert_eq!(a.claims.exp, 1000);
    assert!(a.check_audience(&["https://a"]).is_ok());
    assert_eq!(
        a.check_audience(&["https://b"]),
        Err(AssertionError::Audience)
    );
}

#[test]
fn refusals_by_shape() {
    let h = json!({"alg": "ES256"});
    let cases: Vec<(String, AssertionError)> = vec![
        ("a.b".into(), AssertionError::Malformed),
        ("a.b.c.d".into(), AssertionError::Malformed),
        (
            format!("{}.{}.", b64(&h), b64(&claims())),
            AssertionError::Malformed,
        ),
        (
            format!("{}.{}.c2ln", b64(&json!([1])), b64(&claims())),
            AssertionError::Malformed,
        ),
        (
            format!("{}=.{}.c2ln", b64(&h), b64(&claims())),
            AssertionError::Malformed,
        ),
        (
            jwt(&json!({"kid": "k"}), &claims()),
            AssertionError::Missing("alg"),
        ),
        (
            jwt(&json!({"alg": 1}), &claims()),
            AssertionError::Missing("alg"),
        ),
        (
            jwt(&json!({"alg": "ES256", "crit": ["exp"]}), &claims()),
            AssertionError::Critical,
        ),
        (
            jwt(&h, &json!({"sub": "c", "aud": "a", "exp": 1})),
            AssertionError::Missing("iss"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "aud": "a", "exp": 1})),
            AssertionError::Missing("sub"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "sub": "c", "exp": 1})),
            AssertionError::Missing("aud"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "sub": "c", "aud": [1], "exp": 1})),
            AssertionError::Missing("aud"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "sub": "c", "aud": "a"})),
            AssertionError::Missing("exp"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "sub": "c", "aud": "a", "exp": "1"})),
            AssertionError::Missing("exp"),
        ),
        (
            jwt(&h, &json!({"iss": "c", "sub": "c", "aud": "a", "exp": -1})),
            AssertionError::Missing("exp"),
        ),
        (
            jwt(
                &h,
                &json!({"iss": "c", "sub": "c", "aud": "a", "exp": 1, "jti": 5}),
            ),
            AssertionError::Missing("jti"),
        ),
        (
            "x".repeat(MAX_ASSERTION_BYTES + 1),
            AssertionError::TooLarge,
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(
            Assertion::parse(&token).map(|_| ()),
            Err(expected),
            "{token:.80}"
        );
    }
}

#[test]
fn times() {
    let a = Assertion::parse(&jwt(&json!({"alg": "ES256"}), &claims())).unwrap();
    assert!(a.check_times(950, 0, Some(300)).is_ok());
    assert_eq!(a.check_times(1000, 0, None), Err(AssertionError::Expired));
    assert!(a.check_times(1030, 60, None).is_ok(), "within the skew");
    assert_eq!(
        a.check_times(600, 0, Some(300)),
        Err(AssertionError::TooLong)
    );
    assert_eq!(
        a.check_times(800, 60, None),
        Err(AssertionError::NotYetValid)
    );
}

#[test]
fn algorithms_outside_the_allowlist() {
    for alg in [
        "none", "None", "HS256", "HS512", "RS384", "ES512", "es256", "",
    ] {
        let a = Assertion::parse(&jwt(&json!({"alg": alg}), &claims())).unwrap();
        assert_eq!(a.alg(), Err(AssertionError::Algorithm), "{alg}");
    }
}

#[test]
fn debug_never_shows_the_token() {
    let token = jwt(&json!({"alg": "ES256"}), &claims());
    let a = Assertion::parse(&token).unwrap();
    let shown = format!("{a:?}");
    assert!(
        !shown.contains(&token[..20]) && !shown.contains("c2ln"),
        "{shown}"
    );
}

proptest! {
    /// Any input, however malformed, is an answer, never a panic; anything accepted
    /// is three segments within the size bound, and parsing is deterministic.
    #[test]
    fn never_panics_on_arbitrary_input(input in ".{0,300}") {
        if let Ok(a) = Assertion::parse(&input) {
            prop_assert!(input.len() <= MAX_ASSERTION_BYTES);
            prop_assert_eq!(input.matches('.').count(), 2);
            prop_assert_eq!(Assertion::parse(&input), Ok(a));
        }
    }

    /// Segments of arbitrary bytes, base64url-encoded: parse or refuse, never panic.
    #[test]
    fn never_panics_on_arbitrary_segments(
        h in proptest::collection::vec(any::<u8>(), 0..120),
        p in proptest::collection::vec(any::<u8>(), 0..200),
        s in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let token = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(&h), URL_SAFE_NO_PAD.encode(&p), URL_SAFE_NO_PAD.encode(&s));
        let _ = Assertion::parse(&token);
    }

    /// Well-formed claims with arbitrary string values round-trip exactly.
    #[test]
    fn claims_round_trip(
        iss in "\\PC{1,40}", sub in "\\PC{1,40}", aud in proptest::collection::vec("\\PC{1,30}", 1..4),
        exp in 0u64..4_000_000_000, iat in proptest::option::of(0u64..4_000_000_000),
        jti in proptest::option::of("\\PC{1,40}"), kid in proptest::option::of("[A-Za-z0-9_-]{1,40}"),
    ) {
        let mut c = json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp});
        if let Some(t) = iat { c["iat"] = json!(t); }
        if let Some(j) = &jti { c["jti"] = json!(j); }
        let mut h = json!({"alg": "EdDSA"});
        if let Some(k) = &kid { h["kid"] = json!(k); }
        let a = Assertion::parse(&jwt(&h, &c)).unwrap();
        prop_assert_eq!(&a.claims.iss, &iss);
        prop_assert_eq!(&a.claims.sub, &sub);
        prop_assert_eq!(&a.claims.aud, &aud);
        prop_assert_eq!(a.claims.exp, exp);
        prop_assert_eq!(a.claims.iat, iat);
        prop_assert_eq!(&a.claims.jti, &jti);
        prop_assert_eq!(&a.header.kid, &kid);
        prop_assert_eq!(a.alg(), Ok(AssertionAlg::EdDSA));
    }
}
