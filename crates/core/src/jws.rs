//! JWS compact serialization (RFC 7515 §7.1) of access tokens (RFC 9068 §2.1).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

/// KMS `Sign` with `MessageType=RAW` accepts at most 4096 bytes.
pub const MAX_SIGNING_INPUT: usize = 4096;

/// The protected header of our tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JwsHeader<'a> {
    /// `RS256` or `ES256`.
    pub alg: &'a str,
    /// The signing key's thumbprint.
    pub kid: &'a str,
    /// `at+jwt` (RFC 9068 §2.1) or `JWT` (auth0 profile).
    pub typ: &'a str,
}

/// Why a signing input could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JwsError {
    /// The input exceeds [`MAX_SIGNING_INPUT`] bytes.
    #[error("signing input of {0} bytes exceeds the 4096-byte KMS limit")]
    TooLarge(usize),
    /// JSON serialization failed.
    #[error("claims could not be serialized: {0}")]
    Json(#[from] serde_json::Error),
}

/// Length of the unpadded base64url encoding of `n` bytes (RFC 4648 §5, RFC 7515 §2).
const fn b64_len(n: usize) -> usize {
    (n / 3) * 4
        + match n % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// The JWS Signing Input (RFC 7515 §5.1 step 8):
/// `ASCII(BASE64URL(UTF8(JWS Protected Header)) || '.' || BASE64URL(JWS Payload))`,
/// refused with [`JwsError::TooLarge`] over [`MAX_SIGNING_INPUT`] bytes, before any
/// base64 work is done.
///
/// Two allocations: one JSON buffer reused for header and claims, and the output,
/// sized exactly.
pub fn signing_input(
    header: &JwsHeader<'_>,
    claims: &Map<String, Value>,
) -> Result<String, JwsError> {
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, header)?;
    let header_len = json.len();
    serde_json::to_writer(&mut json, claims)?;
    let (header_json, claims_json) = json.split_at(header_len);

    let len = b64_len(header_json.len()) + 1 + b64_len(claims_json.len());
    if len > MAX_SIGNING_INPUT {
        return Err(JwsError::TooLarge(len));
    }
    let mut out = String::with_capacity(len);
    URL_SAFE_NO_PAD.encode_string(header_json, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims_json, &mut out);
    Ok(out)
}

/// The JWS Compact Serialization (RFC 7515 §7.1):
/// `signing_input "." BASE64URL(JWS Signature)`.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    let mut out = String::with_capacity(signing_input.len() + 1 + b64_len(signature.len()));
    out.push_str(signing_input);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEADER: JwsHeader<'static> = JwsHeader {
        alg: "RS256",
        kid: "kid-1",
        typ: "at+jwt",
    };

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn signing_input_decodes_to_header_and_claims() {
        let c = claims(json!({"iss": "https://issuer", "scope": "a b", "n": 1}));
        let input = signing_input(&HEADER, &c).unwrap();
        let (h, p) = input.split_once('.').unwrap();
        let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        let p: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        assert_eq!(h, json!({"alg": "RS256", "kid": "kid-1", "typ": "at+jwt"}));
        assert_eq!(p, Value::Object(c));
        assert!(!input.contains('=') && !input.contains('+') && !input.contains('/'));
    }

    #[test]
    fn header_member_order_stable() {
        let input = signing_input(&HEADER, &Map::new()).unwrap();
        let (h, p) = input.split_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(h).unwrap(),
            br#"{"alg":"RS256","kid":"kid-1","typ":"at+jwt"}"#
        );
        assert_eq!(p, "e30"); // base64url("{}")
    }

    #[test]
    fn b64_len_matches_engine() {
        for n in 0..300 {
            assert_eq!(
                b64_len(n),
                URL_SAFE_NO_PAD.encode(vec![0u8; n]).len(),
                "n={n}"
            );
        }
    }

    #[test]
    fn oversized_claims_too_large() {
        let c = claims(json!({"blob": "x".repeat(4000)}));
        match signing_input(&HEADER, &c) {
            Err(JwsError::TooLarge(len)) => assert!(len > MAX_SIGNING_INPUT),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn exactly_at_limit_accepted() {
        // Grow the claims one byte at a time: the last accepted input is <= 4096 and
        // the first refused one reports its real length.
        let mut last_ok = 0;
        for size in 2900..3100 {
            let c = claims(json!({"b": "x".repeat(size)}));
            match signing_input(&HEADER, &c) {
                Ok(s) => {
                    assert!(s.len() <= MAX_SIGNING_INPUT);
                    last_ok = s.len();
                }
                Err(JwsError::TooLarge(len)) => {
                    assert!(len > MAX_SIGNING_INPUT);
                    assert!(last_ok >= MAX_SIGNING_INPUT - 2);
                    return;
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("never reached the limit");
    }

    #[test]
    fn compact_appends_signature() {
        let token = compact("aGVhZA.Ym9keQ", &[0xFB, 0xFF]);
        assert_eq!(token, "aGVhZA.Ym9keQ.-_8");
        assert_eq!(token.capacity(), token.len());
    }
}
