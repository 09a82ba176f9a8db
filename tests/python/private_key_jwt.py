"""`private_key_jwt` client authentication (RFC 7523 §2.2) with Python Authlib, as a
customer's backend would use it:

    python private_key_jwt.py keygen DIR
        writes DIR/private.pem (EC P-256, kept by the customer) and DIR/public.jwk.json
        (what the platform registers with `m2m-admin client-key add`)
    python private_key_jwt.py token TOKEN_URL CLIENT_ID DIR AUDIENCE [SCOPE]
        gets a token with Authlib's PrivateKeyJWT and prints the token response

Authlib signs assertions valid for an hour by default; the server accepts at most a
few minutes (the assertion is a bearer credential until it expires), so the
assertion's lifetime is set to 60 s, as the README shows.
"""

import json
import pathlib
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with a 60-second assertion."""

    alg = "ES256"

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            expires_in=60,
        )


def keygen(directory):
    d = pathlib.Path(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (d / "private.pem").write_bytes(pem)
    (d / "public.jwk.json").write_text(ECAlgorithm.to_jwk(key.public_key()))


def token(token_url, client_id, directory, audience, scope=None):
    private_key = (pathlib.Path(directory) / "private.pem").read_text()
    session = OAuth2Session(
        client_id,
        private_key,
        token_endpoint_auth_method=ShortLivedPrivateKeyJWT(token_url),
    )
    params = {"audience": audience}
    if scope:
        params["scope"] = scope
    response = session.fetch_token(
        token_url, grant_type="client_credentials", **params
    )
    print(json.dumps(dict(response)))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"keygen": keygen, "token": token}[command](*args)
