//! API Gateway HTTP API (payload format 2.0) events, as Lambda hands them to the
//! functions: built from recorded fixtures — a form-encoded `POST /oauth/token` and a
//! `GET` of a `/.well-known/` document — with method, path, headers and body replaced,
//! then parsed by `lambda_http` exactly as the runtime parses what API Gateway sends.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lambda_http::Request;
use m2m_core::testing::fixtures::{CLIENT_ID, CLIENT_SECRET};
use serde_json::{json, Value};

const TOKEN_POST: &str = include_str!("../fixtures/apigw_v2_token_form.json");
const WELL_KNOWN_GET: &str = include_str!("../fixtures/apigw_v2_get.json");
const ADMIN_IAM: &str = include_str!("../fixtures/apigw_v2_admin_iam.json");

/// The IAM principal of the management API fixture (an assumed role, as a platform's
/// signup service calls it with SigV4).
pub const ADMIN_PRINCIPAL: &str = "arn:aws:sts::123456789012:assumed-role/signup-service/signup";

/// An API Gateway HTTP API event under construction.
#[derive(Clone, Debug)]
pub struct ApiGatewayEvent {
    event: Value,
}

impl ApiGatewayEvent {
    fn fixture(text: &str) -> Self {
        // The fixtures are part of this crate: a parse failure is a broken kit.
        #[allow(clippy::expect_used)]
        let event = serde_json::from_str(text).expect("API Gateway fixture is JSON");
        Self { event }
    }

    /// `POST /oauth/token`, `Content-Type: application/x-www-form-urlencoded`, empty body.
    pub fn token_post() -> Self {
        Self::fixture(TOKEN_POST)
    }

    /// `GET /.well-known/jwks.json` on the `/.well-known/{proxy+}` route.
    pub fn well_known_get() -> Self {
        Self::fixture(WELL_KNOWN_GET)
    }

    /// `GET /admin/v1/clients` on the `ANY /admin/v1/{proxy+}` route with `AWS_IAM`
    /// authorization: the context names the IAM principal API Gateway verified.
    pub fn admin_iam() -> Self {
        Self::fixture(ADMIN_IAM)
    }

    /// Drops the IAM authorizer context: what a route without `AWS_IAM` would deliver.
    pub fn without_iam(mut self) -> Self {
        if let Some(ctx) = self.event["requestContext"].as_object_mut() {
            ctx.remove("authorizer");
        }
        self
    }

    /// Sets the query string (`rawQueryString` and the decoded
    /// `queryStringParameters`), from `pairs`.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let raw = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.event["rawQueryString"] = json!(raw);
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        self.event["queryStringParameters"] = Value::Object(map);
        self
    }

    /// Replaces the HTTP method (and the method part of the route key).
    pub fn method(mut self, method: &str) -> Self {
        self.event["requestContext"]["http"]["method"] = json!(method);
        let route = self.event["routeKey"]
            .as_str()
            .and_then(|r| r.split_once(' '))
            .map(|(_, route)| route.to_owned());
        if let Some(route) = route {
            self.event["routeKey"] = json!(format!("{method} {route}"));
        }
        self
    }

    /// Replaces the request path (`rawPath` and `requestContext.http.path`).
    pub fn path(mut self, path: &str) -> Self {
        self.event["requestContext"]["http"]["path"] = json!(path);
        self.event["rawPath"] = json!(path);
        self
    }

    /// Sets one header (names as API Gateway sends them: lower case).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name] = json!(value);
        self
    }

    /// Sets each of `headers`.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |event, (name, value)| event.header(name, value))
    }

    /// The body as text, with its `content-length`.
    pub fn body(mut self, body: &str) -> Self {
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self
    }

    /// The body base64-encoded with `isBase64Encoded: true`, as API Gateway delivers a
    /// body it does not treat as text; `content-length` is the decoded length.
    pub fn base64_body(mut self, body: &str) -> Self {
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        self.event["body"] = json!(STANDARD.encode(body));
        self.event["isBase64Encoded"] = json!(true);
        self
    }

    /// The event as the JSON document Lambda delivers.
    pub fn json(&self) -> &Value {
        &self.event
    }

    /// The request `lambda_http` makes of the event.
    pub fn request(&self) -> Request {
        // Every builder step keeps the event a valid payload 2.0 document.
        #[allow(clippy::expect_used)]
        lambda_http::request::from_str(&self.event.to_string())
            .expect("lambda_http parses the API Gateway event")
    }
}

/// A request to the token endpoint with `method`, `body` (base64-encoded by API Gateway
/// when `base64`) and then `headers`, which may override any of the fixture's.
pub fn token_event(method: &str, headers: &[(&str, &str)], body: &str, base64: bool) -> Request {
    let event = ApiGatewayEvent::token_post().method(method);
    let event = if base64 {
        event.base64_body(body)
    } else {
        event.body(body)
    };
    event.headers(headers).request()
}

/// A form-encoded token request with `body` (RFC 6749 §4.4.2).
pub fn token_form(body: &str) -> Request {
    ApiGatewayEvent::token_post().body(body).request()
}

/// The client credentials form body for `client_id` and `secret`, audience the
/// fixtures' API, followed by `extra` (e.g. `&scope=read`).
pub fn client_credentials_body(client_id: &str, secret: &str, extra: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&audience=https%3A%2F%2Fapi.example.com{extra}"
    )
}

/// The fixtures' client asking for a token for the fixtures' API, `extra` appended to
/// the form body (RFC 6749 §4.4.2, client_secret_post).
pub fn fixture_token_request(extra: &str) -> Request {
    token_form(&client_credentials_body(CLIENT_ID, CLIENT_SECRET, extra))
}

/// A request with `method` for `path` on the `/.well-known/` route, with `headers` added.
pub fn well_known(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
    ApiGatewayEvent::well_known_get()
        .method(method)
        .path(path)
        .headers(headers)
        .request()
}

/// A `GET` of `path` on the `/.well-known/` route.
pub fn get(path: &str) -> Request {
    ApiGatewayEvent::well_known_get().path(path).request()
}
