//! Parsing of token requests (RFC 6749 §4.4.2) from the raw HTTP pieces: method,
//! content type, `Authorization` header and body, in form or JSON encoding.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::assertion::Assertion;
use crate::basic::decode_basic;
use crate::error::OAuthError;
use crate::types::{Audience, ClientId, ClientSecret, ScopeSet};

/// Bodies larger than this are refused before parsing (DESIGN.md), by
/// [`crate::http_response::admit`].
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The only grant served (RFC 6749 §4.4.2).
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client authenticated, as the discovery document names the methods
/// (RFC 8414 §2, `token_endpoint_auth_methods_supported`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1).
    Basic,
    /// Credentials in the body (`client_secret_post`, RFC 6749 §2.3.1).
    Post,
    /// A signed JWT (`private_key_jwt`, RFC 7523 §2.2): by a key the client
    /// registered, or by an external issuer the client trusts.
    PrivateKeyJwt,
}

impl AuthMethod {
    /// The method's registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// The credential a token request presents: one variant per client authentication
/// method, each authenticated by its own function in [`crate::auth`]. Its `Debug`
/// never shows a secret or an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: the secret from the `Authorization` header.
    SecretBasic(ClientSecret),
    /// `client_secret_post`: the secret from the body.
    SecretPost(ClientSecret),
    /// `private_key_jwt`: a JWT from `client_assertion` with `client_assertion_type`
    /// [`JWT_BEARER`] (RFC 7523 §2.2), parsed but not yet verified.
    JwtAssertion(Box<Assertion>),
}

impl ClientAuth {
    /// The method.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::SecretBasic(_) => AuthMethod::Basic,
            Self::SecretPost(_) => AuthMethod::Post,
            Self::JwtAssertion(_) => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// A syntactically valid client credentials token request. Its `Debug` never shows
/// the credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The client's id: `client_id`, or for an assertion without it, the assertion's
    /// `sub` (RFC 7523 §3: the client is identified by the assertion).
    pub client_id: ClientId,
    /// The presented credential.
    pub auth: ClientAuth,
    /// `audience`, or `resource` (RFC 8707 §2); `None` means the default audience.
    pub audience: Option<Audience>,
    /// The requested scopes; `None` means every granted scope (RFC 6749 §3.3).
    pub scope: Option<ScopeSet>,
}

/// Parses a token request.
///
/// The HTTP-level checks (POST only, at most [`MAX_BODY_BYTES`]) come first, in
/// [`crate::http_response::admit`]. Then, in order: a form or JSON
/// body (`invalid_request`); no repeated parameter (RFC 6749 §3.2); `grant_type`
/// present (`invalid_request`) and `client_credentials` (`unsupported_grant_type`);
/// exactly one client authentication method (two: `invalid_request`, none:
/// `invalid_client`); for an assertion, `client_assertion_type` [`JWT_BEARER`]
/// (`invalid_request` when missing, `invalid_client` when another, RFC 7523 §3.2) and
/// a well-formed JWT of at most [`crate::assertion::MAX_ASSERTION_BYTES`]
/// (`invalid_client`); a well-formed `scope` (`invalid_scope`). Empty parameters are
/// treated as omitted (RFC 6749 §3.2) and unknown ones are ignored.
pub fn parse_token_request(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, OAuthError> {
    let params = match media_type(content_type).as_deref() {
        Some("application/x-www-form-urlencoded") => form_params(body)?,
        Some("application/json") => json_params(body)?,
        _ => {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded or application/json".into(),
            ))
        }
    };
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    match get("grant_type") {
        None => return Err(OAuthError::InvalidRequest("grant_type is required".into())),
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }

    let (client_id, auth) = client_auth(authorization, &get)?;

    let audience = match (get("audience"), get("resource")) {
        (Some(a), Some(r)) if a != r => {
            return Err(OAuthError::InvalidRequest(
                "audience and resource name different APIs".into(),
            ))
        }
        (Some(a), _) => Some(a),
        (None, r) => r,
    };
    // RFC 8707 §2: a resource indicator "MUST NOT include a fragment component".
    if audience.is_some_and(|a| a.contains('#')) {
        return Err(OAuthError::InvalidTarget);
    }

    let scope =
        match get("scope") {
            None => None,
            Some(s) => Some(ScopeSet::parse(s).ok_or_else(|| {
                OAuthError::InvalidScope("the scope parameter is malformed".into())
            })?)
            .filter(|s| !s.is_empty()),
        };

    Ok(TokenRequest {
        client_id,
        auth,
        audience: audience.map(Audience::new),
        scope,
    })
}

/// A request to the revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1)
/// endpoint: the token it is about and the caller's client authentication, which
/// follows the token endpoint's rules (any method, exactly one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenOperation {
    /// The caller's client id.
    pub client_id: ClientId,
    /// The caller's credential.
    pub auth: ClientAuth,
    /// `token`: the token the request is about. A credential: `Debug` is redacted.
    pub token: PresentedToken,
    /// `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1), if given.
    pub token_type_hint: Option<String>,
}

/// A token presented to the revocation or introspection endpoint. `Debug` never shows
/// it.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken(String);

impl PresentedToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token: a credential, never to be logged.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedToken(<redacted>)")
    }
}

/// Parses a revocation or introspection request: a form body (both RFCs define
/// `application/x-www-form-urlencoded` only); no repeated parameter; `token` present
/// (`invalid_request`); exactly one client authentication method, as for the token
/// endpoint.
///
/// # Errors
/// `invalid_request`, or `invalid_client` when no client authentication is present.
pub fn parse_token_operation(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenOperation, OAuthError> {
    if media_type(content_type).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let params = form_params(body)?;
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let token =
        get("token").ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let (client_id, auth) = client_auth(authorization, &get)?;
    Ok(TokenOperation {
        client_id,
        auth,
        token: PresentedToken::new(token),
        token_type_hint: get("token_type_hint").map(str::to_owned),
    })
}

/// The client and its credential: exactly one of HTTP Basic, a secret in the body, or
/// a client assertion (RFC 6749 §2.3: "MUST NOT use more than one authentication
/// method in each request").
fn client_auth<'a>(
    authorization: Option<&str>,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(ClientId, ClientAuth), OAuthError> {
    let body_id = get("client_id");
    let body_secret = get("client_secret");
    let assertion = get("client_assertion");
    let assertion_type = get("client_assertion_type");
    let header = authorization.filter(|h| !h.is_empty());
    let methods = usize::from(header.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some() || assertion_type.is_some());
    if methods > 1 {
        return Err(OAuthError::InvalidRequest(
            "use one client authentication method, not both".into(),
        ));
    }
    if let Some(header) = header {
        let (id, secret) = decode_basic(header)?;
        if body_id.is_some_and(|b| b != id.as_str()) {
            return Err(OAuthError::InvalidRequest(
                "client_id in the body differs from the Authorization header".into(),
            ));
        }
        return Ok((id, ClientAuth::SecretBasic(secret)));
    }
    if let Some(secret) = body_secret {
        let id = body_id.ok_or(OAuthError::InvalidClient)?;
        return Ok((
            ClientId::new(id),
            ClientAuth::SecretPost(ClientSecret::new(secret)),
        ));
    }
    match (assertion_type, assertion) {
        (None, None) => Err(OAuthError::InvalidClient),
        (None, Some(_)) => Err(OAuthError::InvalidRequest(
            "client_assertion_type is required with client_assertion".into(),
        )),
        (Some(_), None) => Err(OAuthError::InvalidRequest(
            "client_assertion is required with client_assertion_type".into(),
        )),
        (Some(kind), Some(_)) if kind != JWT_BEARER => Err(OAuthError::InvalidClient),
        (Some(_), Some(jwt)) => {
            let assertion = Assertion::parse(jwt).map_err(|_| OAuthError::InvalidClient)?;
            let id = body_id.unwrap_or(assertion.claims.sub.as_str());
            Ok((
                ClientId::new(id),
                ClientAuth::JwtAssertion(Box::new(assertion)),
            ))
        }
    }
}

/// The lower-cased media type of a `Content-Type` value, without parameters.
fn media_type(content_type: Option<&str>) -> Option<String> {
    let value = content_type?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// Form parameters; a repeated name is `invalid_request` (RFC 6749 §3.2).
fn form_params(body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::InvalidRequest("the body is not UTF-8".into()));
    }
    let mut params = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.contains_key(name.as_ref()) {
            return Err(repeated(&name));
        }
        params.insert(name.into_owned(), value.into_owned());
    }
    Ok(params)
}

fn repeated(name: &str) -> OAuthError {
    // Parameter names come from the caller: keep only a short, printable form.
    let shown: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect();
    OAuthError::InvalidRequest(format!("parameter {shown} is repeated"))
}

/// JSON parameters (the Auth0-style body): an object of strings; a repeated key is
/// refused like a repeated form parameter.
fn json_params(body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let mut repeated_key = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = JsonParams {
        repeated: &mut repeated_key,
    }
    .deserialize(&mut de)
    .and_then(|params| de.end().map(|()| params));
    match (parsed, repeated_key) {
        (_, Some(name)) => Err(repeated(&name)),
        (Ok(params), None) => Ok(params),
        (Err(_), None) => Err(OAuthError::InvalidRequest(
            "the body must be a JSON object whose values are strings".into(),
        )),
    }
}

/// Reads a JSON object of string values; on a repeated key it stops and leaves the
/// key in `repeated`, so the caller can name it (RFC 6749 §3.2) without reading it
/// back out of an error message.
struct JsonParams<'a> {
    repeated: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for JsonParams<'_> {
    type Value = BTreeMap<String, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonParams<'_> {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<String>()?;
            if out.contains_key(&key) {
                *self.repeated = Some(key);
                return Err(de::Error::custom("repeated parameter"));
            }
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// The longest client id logged whole; `m2m-admin` makes 24-character ids.
pub const MAX_LOGGED_CLIENT_ID: usize = 32;
/// How much of a longer id-shaped value is logged: too little of a pasted secret (43
/// base64url characters) to help guess the rest.
pub const TRUNCATED_CLIENT_ID: usize = 8;

/// What the log may say of a caller-supplied client id. A caller controls this value:
/// whole, it could be 8 KiB, a secret pasted into the wrong field, or forged log
/// lines. Logged whole only when it has the shape of a client id (1 to
/// [`MAX_LOGGED_CLIENT_ID`] letters, digits, `-`, `_`, `.`, and not a secret's
/// `m2m_sk_` prefix); a longer id-shaped value is truncated to its first
/// [`TRUNCATED_CLIENT_ID`] characters; anything else is a placeholder.
pub fn loggable_client_id(client_id: Option<&str>) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let Some(id) = client_id else {
        return Cow::Borrowed("-");
    };
    let shaped = !id.is_empty()
        && !id.starts_with(crate::secret::SECRET_PREFIX)
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !shaped {
        Cow::Borrowed("<malformed>")
    } else if id.len() <= MAX_LOGGED_CLIENT_ID {
        Cow::Borrowed(id)
    } else {
        // ASCII only, so the index is a character boundary.
        Cow::Owned(format!(
            "{}…",
            id.get(..TRUNCATED_CLIENT_ID).unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basic::encode_basic;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");

    fn parse_form(body: &str) -> Result<TokenRequest, OAuthError> {
        parse_token_request(FORM, None, body.as_bytes())
    }

    #[test]
    fn form_post_credentials_parsed() {
        let r = parse_form("grant_type=client_credentials&client_id=c1&client_secret=s%2B1&audience=https%3A%2F%2Fapi&scope=read+write").unwrap();
        assert_eq!(r.client_id.as_str(), "c1");
        assert!(matches!(r.auth, ClientAuth::SecretPost(ref s) if s.expose() == "s+1"));
        assert_eq!(r.audience.unwrap().as_str(), "https://api");
        assert_eq!(r.scope.unwrap().to_wire(), "read write");
    }

    #[test]
    fn json_and_form_parse_equal() {
        let form = parse_form(
            "grant_type=client_credentials&client_id=c1&client_secret=s1&audience=a&scope=x",
        )
        .unwrap();
        let json = parse_token_request(
            JSON,
            None,
            br#"{"grant_type":"client_credentials","client_id":"c1","client_secret":"s1","audience":"a","scope":"x"}"#,
        )
        .unwrap();
        assert_eq!(form, json);
    }

    #[test]
    fn content_type_with_charset_accepted() {
        let r = parse_token_request(
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            None,
            b"grant_type=client_credentials&client_id=c&client_secret=s",
        );
        assert!(r.is_ok());
    }

    #[test]
    fn repeated_form_parameter_invalid_request() {
        let e =
            parse_form("grant_type=client_credentials&client_id=c&client_secret=s&scope=a&scope=b")
                .unwrap_err();
        assert!(
            matches!(e, OAuthError::InvalidRequest(ref d) if d.contains("scope")),
            "{e:?}"
        );
    }

    #[test]
    fn repeated_json_key_invalid_request() {
        let e = parse_token_request(JSON, None, br#"{"grant_type":"client_credentials","client_id":"c","client_id":"d","client_secret":"s"}"#).unwrap_err();
        assert!(
            matches!(e, OAuthError::InvalidRequest(ref d) if d.contains("client_id")),
            "{e:?}"
        );
    }

    #[test]
    fn json_number_value_invalid_request() {
        let e = parse_token_request(JSON, None, br#"{"grant_type":1}"#).unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn unsupported_content_type_invalid_request() {
        let e = parse_token_request(Some("text/plain"), None, b"x").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
        let e = parse_token_request(None, None, b"x").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn missing_grant_type_invalid_request() {
        let e = parse_form("client_id=c&client_secret=s").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn password_grant_unsupported_grant_type() {
        let e = parse_form("grant_type=password&username=u&password=p").unwrap_err();
        assert!(matches!(e, OAuthError::UnsupportedGrantType));
    }

    #[test]
    fn both_auth_methods_invalid_request() {
        let h = encode_basic("c", "s");
        let e = parse_token_request(
            FORM,
            Some(&h),
            b"grant_type=client_credentials&client_id=c&client_secret=s",
        )
        .unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn basic_with_matching_body_client_id_accepted() {
        let h = encode_basic("c", "s");
        let r = parse_token_request(FORM, Some(&h), b"grant_type=client_credentials&client_id=c")
            .unwrap();
        assert_eq!(r.auth.method(), AuthMethod::Basic);
    }

    #[test]
    fn no_credentials_invalid_client() {
        let e = parse_form("grant_type=client_credentials").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidClient));
        let e = parse_form("grant_type=client_credentials&client_id=c").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidClient));
    }

    #[test]
    fn resource_parameter_is_audience() {
        let r = parse_form(
            "grant_type=client_credentials&client_id=c&client_secret=s&resource=https%3A%2F%2Fapi",
        )
        .unwrap();
        assert_eq!(r.audience.unwrap().as_str(), "https://api");
    }

    #[test]
    fn conflicting_audience_and_resource_invalid_request() {
        let e = parse_form(
            "grant_type=client_credentials&client_id=c&client_secret=s&resource=a&audience=b",
        )
        .unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }

    #[test]
    fn resource_with_fragment_invalid_target() {
        let e = parse_form("grant_type=client_credentials&client_id=c&client_secret=s&resource=https%3A%2F%2Fapi%23x").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidTarget));
    }

    #[test]
    fn malformed_scope_invalid_scope() {
        let e = parse_form("grant_type=client_credentials&client_id=c&client_secret=s&scope=a%22b")
            .unwrap_err();
        assert!(matches!(e, OAuthError::InvalidScope(_)));
    }

    #[test]
    fn empty_parameters_treated_as_omitted() {
        let r = parse_form(
            "grant_type=client_credentials&client_id=c&client_secret=s&scope=&audience=",
        )
        .unwrap();
        assert!(r.scope.is_none());
        assert!(r.audience.is_none());
    }

    #[test]
    fn non_utf8_form_invalid_request() {
        let e = parse_token_request(FORM, None, b"grant_type=\xff").unwrap_err();
        assert!(matches!(e, OAuthError::InvalidRequest(_)));
    }
}
