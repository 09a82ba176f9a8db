//! What the three floor functions share: the constant answer and the one key read.

use lambda_http::{Body, Response};

/// The constant answer every floor function gives.
pub fn answer() -> Response<Body> {
    let mut r = Response::new(Body::from(r#"{"access_token":"x","token_type":"Bearer"}"#));
    r.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The table (`M2M_TABLE`) and the key read: a client item that does not exist.
pub fn table() -> String {
    std::env::var("M2M_TABLE").unwrap_or_else(|_| "m2m-auth-bench".into())
}
