//! HTTP Basic client authentication (`client_secret_basic`, RFC 6749 §2.3.1, RFC 7617):
//! the client id and secret are form-urlencoded (Appendix B) before being joined with
//! `:` and base64-encoded, so a `:` in a secret arrives as `%3A`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::OAuthError;
use crate::types::{ClientId, ClientSecret};

/// Decodes an `Authorization` header value into a client id and secret.
///
/// A scheme other than `Basic` is an unsupported authentication method:
/// `invalid_client` (RFC 6749 §5.2). A Basic header that is not base64, has no `:`,
/// or does not decode to UTF-8 is malformed: `invalid_request`.
pub fn decode_basic(header: &str) -> Result<(ClientId, ClientSecret), OAuthError> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient);
    }
    let malformed = || OAuthError::InvalidRequest("malformed Basic authorization header".into());
    let raw = STANDARD.decode(rest.trim()).map_err(|_| malformed())?;
    let text = std::str::from_utf8(&raw).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(OAuthError::InvalidClient);
    }
    Ok((ClientId::new(id), ClientSecret::new(secret)))
}

/// Encodes a client id and secret as an RFC 6749 §2.3.1 Basic header value (the
/// inverse of [`decode_basic`]); used by tests and the operator CLI's examples.
pub fn encode_basic(client_id: &str, secret: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX`
/// a byte; the result must be UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let plus_free = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_free)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_special_characters_round_trip() {
        for secret in ["a:b", "100%", "a+b c", "caf\u{e9}-\u{1F511}", "%3A", ""] {
            let header = encode_basic("client:1", secret);
            let (id, got) = decode_basic(&header).unwrap();
            assert_eq!(id.as_str(), "client:1");
            assert_eq!(got.expose(), secret);
        }
    }

    #[test]
    fn basic_lowercase_scheme_accepted() {
        let header = encode_basic("c", "s").replace("Basic", "basic");
        assert!(decode_basic(&header).is_ok());
    }

    #[test]
    fn bearer_scheme_invalid_client() {
        assert!(matches!(
            decode_basic("Bearer abc"),
            Err(OAuthError::InvalidClient)
        ));
    }

    #[test]
    fn basic_not_base64_invalid_request() {
        assert!(matches!(
            decode_basic("Basic !!!"),
            Err(OAuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn basic_without_colon_invalid_request() {
        let header = format!("Basic {}", STANDARD.encode("nocolon"));
        assert!(matches!(
            decode_basic(&header),
            Err(OAuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn basic_empty_id_invalid_client() {
        let header = format!("Basic {}", STANDARD.encode(":secret"));
        assert!(matches!(
            decode_basic(&header),
            Err(OAuthError::InvalidClient)
        ));
    }
}
