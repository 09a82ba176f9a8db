"""A local OpenID issuer for the tests, built only from independent libraries
(the standard library's HTTP server, `cryptography` and PyJWT): it stands in for a
Kubernetes cluster's service-account issuer or GitHub Actions' OIDC provider.

It serves, on loopback, its discovery document (OpenID Connect Discovery 1.0 §4) at
`/.well-known/openid-configuration` and its JWK Set at `/openid/v1/jwks` (the
Kubernetes path), and mints tokens on `POST /mint` with a JSON body:

    {"shape": "kubernetes" | "github", "audience": "...", "subject": "...",
     "claims": {...}, "iss": "...", "lifetime": 600}

`shape` picks the claim layout of a Kubernetes projected service-account token or a
GitHub Actions OIDC token; `claims` adds or overrides claims; `iss` overrides the
issuer (to mint a token from an issuer that is not trusted). The answer is the token.

Run: `python oidc_issuer.py` prints `READY <issuer URL>` on one line, then serves
until killed.
"""

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "local-issuer-" + uuid.uuid4().hex[:8]


def public_jwks():
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    jwk.update({"kid": KID, "alg": "RS256", "use": "sig"})
    return {"keys": [jwk]}


def kubernetes_claims(issuer, audience, subject, now, lifetime):
    namespace, name = "payments", "api"
    if subject and subject.startswith("system:serviceaccount:"):
        namespace, name = subject.split(":")[2:4]
    return {
        "aud": [audience],
        "exp": now + lifetime,
        "iat": now,
        "nbf": now,
        "iss": issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": "node-1", "uid": str(uuid.uuid4())},
            "pod": {"name": f"{name}-7d9f8", "uid": str(uuid.uuid4())},
            "serviceaccount": {"name": name, "uid": str(uuid.uuid4())},
        },
        "sub": subject or f"system:serviceaccount:{namespace}:{name}",
    }


def github_claims(issuer, audience, subject, now, lifetime):
    repository, ref = "acme/payments", "refs/heads/main"
    return {
        "jti": str(uuid.uuid4()),
        "sub": subject or f"repo:{repository}:ref:{ref}",
        "aud": audience,
        "ref": ref,
        "sha": "a" * 40,
        "repository": repository,
        "repository_owner": "acme",
        "repository_id": "123456",
        "run_id": "987654321",
        "run_number": "42",
        "run_attempt": "1",
        "actor": "octocat",
        "workflow": "deploy",
        "event_name": "push",
        "ref_type": "branch",
        "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}",
        "runner_environment": "github-hosted",
        "iss": issuer,
        "nbf": now - 5,
        "exp": now + lifetime,
        "iat": now,
    }


class Issuer(BaseHTTPRequestHandler):
    issuer = ""

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            doc = {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}/openid/v1/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            self.answer(200, json.dumps(doc))
        elif self.path == "/openid/v1/jwks":
            self.answer(200, json.dumps(public_jwks()), "application/jwk-set+json")
        else:
            self.answer(404, json.dumps({"error": "not found"}))

    def do_POST(self):
        if self.path != "/mint":
            return self.answer(404, json.dumps({"error": "not found"}))
        length = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(length) or b"{}")
        now = int(time.time())
        shape = {"kubernetes": kubernetes_claims, "github": github_claims}[req["shape"]]
        claims = shape(
            req.get("iss", self.issuer),
            req["audience"],
            req.get("subject"),
            now,
            int(req.get("lifetime", 600)),
        )
        claims.update(req.get("claims", {}))
        token = jwt.encode(
            claims, KEY, algorithm="RS256", headers={"kid": KID, "typ": "JWT"}
        )
        self.answer(200, token, "application/jwt")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
    Issuer.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"READY {Issuer.issuer}", flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sys.stdin.read()  # serve until the test closes our stdin or kills us
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
