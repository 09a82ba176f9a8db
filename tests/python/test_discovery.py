#!/usr/bin/env python3
"""Reads m2m-auth's discovery documents and JWKS with libraries from another
ecosystem, as a resource server would: Authlib validates the documents as RFC 8414
(and OpenID Connect Discovery 1.0) metadata, PyJWT's PyJWKClient fetches the key set
from `jwks_uri` and verifies each token. Exit status 0 only if every check holds.

    test_discovery.py --issuer URL --audience API --token JWT [--token JWT ...]
"""

import argparse
import json
import sys
import urllib.request
from urllib.parse import urlsplit

import jwt
from jwt import PyJWKClient
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata


def fetch_json(url):
    """GETs a JSON document; checks the headers the server promises."""
    with urllib.request.urlopen(url, timeout=10) as response:
        if response.status != 200:
            raise AssertionError(f"{url}: HTTP {response.status}")
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            raise AssertionError(f"{url}: Content-Type {content_type!r}")
        cache = response.headers.get("Cache-Control")
        if cache != "public, max-age=300":
            raise AssertionError(f"{url}: Cache-Control {cache!r}")
        if not response.headers.get("ETag"):
            raise AssertionError(f"{url}: no ETag")
        return json.load(response)


def metadata_urls(issuer):
    """RFC 8414 §3.1 inserts the well-known name between host and path; OpenID
    Connect Discovery §4.1 appends it to the issuer."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    return rfc8414, oidc


def check_metadata(doc, issuer, model):
    """RFC 8414 §3.3 / OIDC Discovery §4.3: `issuer` equals the issuer exactly."""
    if doc.get("issuer") != issuer:
        raise AssertionError(f"issuer {doc.get('issuer')!r} != {issuer!r}")
    model(doc).validate()
    if "client_credentials" not in doc.get("grant_types_supported", []):
        raise AssertionError("client_credentials is not a supported grant type")
    scheme = urlsplit(issuer).scheme
    for field in ("token_endpoint", "jwks_uri"):
        url = urlsplit(doc[field])
        if url.scheme != scheme or not url.netloc:
            raise AssertionError(f"{field} {doc[field]!r} is not absolute {scheme}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--token", action="append", required=True)
    args = parser.parse_args()

    rfc8414_url, oidc_url = metadata_urls(args.issuer)
    oauth = fetch_json(rfc8414_url)
    check_metadata(oauth, args.issuer, AuthorizationServerMetadata)
    oidc = fetch_json(oidc_url)
    check_metadata(oidc, args.issuer, OpenIDProviderMetadata)
    print(f"metadata ok: {rfc8414_url}, {oidc_url}")

    algorithms = oidc["id_token_signing_alg_values_supported"]
    jwks_client = PyJWKClient(oidc["jwks_uri"])
    for token in args.token:
        key = jwks_client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=algorithms,
            audience=args.audience,
            issuer=args.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        header = jwt.get_unverified_header(token)
        print(f"token ok: alg={header['alg']} kid={header['kid']} sub={claims['sub']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # any failure is a test failure, with its reason
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
