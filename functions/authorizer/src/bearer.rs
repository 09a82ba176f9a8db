//! The bearer token of a request: the `Authorization` request header field (RFC 6750
//! §2.1), `Bearer` (case-insensitive, RFC 9110 §11.1) then one `b64token`, nothing
//! else. Tokens in the query or the body (RFC 6750 §2.2, §2.3) are not read: API
//! Gateway logs query strings, and an authorizer sees no body.

use aws_lambda_events::http::HeaderMap;

use crate::Refusal;

/// The longest token considered: ours are about 1 KB (RS256) and the signing input is
/// bounded by KMS at 4 KB; anything longer is refused before it is decoded.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The bearer token in `headers`.
///
/// # Errors
/// [`Refusal::NoToken`] without an `Authorization` header; [`Refusal::NotBearer`] for
/// another scheme; [`Refusal::Malformed`] for several headers (API Gateway joins
/// repeated ones with commas, which no `b64token` contains), an empty or oversized
/// token, or anything that is not one `b64token`.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all("authorization").iter();
    let value = values.next().ok_or(Refusal::NoToken)?;
    if values.next().is_some() {
        return Err(Refusal::Malformed);
    }
    let value = value.to_str().map_err(|_| Refusal::Malformed)?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(if scheme.is_empty() {
            Refusal::NoToken
        } else {
            Refusal::NotBearer
        });
    }
    // credentials = "Bearer" 1*SP b64token
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES || !is_b64token(token) {
        return Err(Refusal::Malformed);
    }
    Ok(token)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_lambda_events::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("authorization", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_any_case_one_token() {
        for v in [
            "Bearer a.b.c",
            "bearer a.b.c",
            "BEARER   a.b.c",
            " Bearer a.b.c ",
        ] {
            assert_eq!(bearer_token(&headers(&[v])), Ok("a.b.c"), "{v}");
        }
        assert_eq!(bearer_token(&headers(&["Bearer abc=="])), Ok("abc=="));
    }

    #[test]
    fn refusals() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(Refusal::NoToken));
        assert_eq!(bearer_token(&headers(&[""])), Err(Refusal::NoToken));
        for v in [
            "Basic dXNlcjpwYXNz",
            "Token a.b.c",
            "Bearera.b.c",
            "DPoP a.b.c",
        ] {
            assert_eq!(bearer_token(&headers(&[v])), Err(Refusal::NotBearer), "{v}");
        }
        for v in [
            "Bearer",
            "Bearer ",
            "Bearer a.b.c d.e.f",
            "Bearer a.b.c, Bearer d.e.f",
            "Bearer a\tb",
            "Bearer a=b",
            "Bearer ===",
            "Bearer \"a.b.c\"",
        ] {
            assert_eq!(bearer_token(&headers(&[v])), Err(Refusal::Malformed), "{v}");
        }
        assert_eq!(
            bearer_token(&headers(&["Bearer a.b.c", "Bearer d.e.f"])),
            Err(Refusal::Malformed)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(bearer_token(&headers(&[&long])), Err(Refusal::Malformed));
        let max = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
        assert!(bearer_token(&headers(&[&max])).is_ok());
    }
}
