"""An independent Python client of m2m-auth: Authlib fetches a token with the client
credentials grant (client_secret_basic, then client_secret_post); PyJWT verifies it
through the discovery document and the JWKS. Exits non-zero on any failure.

Environment: M2M_BASE_URL, M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_AUDIENCE.
"""
import os
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

base = os.environ["M2M_BASE_URL"]
audience = os.environ["M2M_AUDIENCE"]
client_id = os.environ["M2M_CLIENT_ID"]
client_secret = os.environ["M2M_CLIENT_SECRET"]

meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=30).json()
assert meta["issuer"] == base, meta
assert "client_credentials" in meta["grant_types_supported"], meta
jwks = jwt.PyJWKClient(meta["jwks_uri"])

for method in ("client_secret_basic", "client_secret_post"):
    session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method)
    token = session.fetch_token(
        meta["token_endpoint"], grant_type="client_credentials", audience=audience, scope="read:orders"
    )
    assert token["token_type"] == "Bearer", token
    access = token["access_token"]
    key = jwks.get_signing_key_from_jwt(access)
    header = jwt.get_unverified_header(access)
    assert header["typ"] == "at+jwt", header
    claims = jwt.decode(access, key.key, algorithms=["RS256", "ES256"], audience=audience, issuer=meta["issuer"])
    assert claims["client_id"] == client_id, claims
    assert claims["scope"] == "read:orders", claims
    print(f"python {method}: verified token for {claims['sub']}")

# A wrong secret is refused with the RFC 6749 error body.
bad = requests.post(
    meta["token_endpoint"],
    auth=(client_id, "m2m_sk_wrong"),
    data={"grant_type": "client_credentials", "audience": audience},
    timeout=30,
)
assert bad.status_code == 401, bad.status_code
assert bad.json()["error"] == "invalid_client", bad.text
print("python: wrong secret refused")
sys.exit(0)
