"""Checks a captured request's AWS Signature Version 4 with botocore's own signer, an
implementation independent of the Rust `aws-sigv4` crate that signed it.

Reads one JSON object on stdin: method, url, headers (as received, names lowercase),
body (base64), access_key, secret_key, session_token, region, service. Recomputes the
signature over exactly the headers the request says it signed, at the request's own
X-Amz-Date, and prints {"ok": ..., "why": ...}.
"""

import base64
import json
import re
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def check(c):
    h = c["headers"]
    m = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
        r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
        h.get("authorization", ""),
    )
    if not m:
        return False, "no SigV4 Authorization header"
    key, day, region, service, signed, signature = m.groups()
    if (key, region, service) != (c["access_key"], c["region"], c["service"]):
        return False, f"credential scope {key}/{region}/{service}"
    if not h.get("x-amz-date", "").startswith(day):
        return False, "X-Amz-Date outside the credential scope's day"
    names = signed.split(";")
    for required in ("host", "x-amz-date", "content-type", "x-amz-target"):
        if required not in names:
            return False, f"{required} not signed"
    if c.get("session_token"):
        if "x-amz-security-token" not in names or h.get("x-amz-security-token") != c["session_token"]:
            return False, "session token not sent or not signed"
    request = AWSRequest(
        method=c["method"],
        url=c["url"],
        data=base64.b64decode(c["body"]),
        headers={n: h[n] for n in names},
    )
    auth = SigV4Auth(
        Credentials(c["access_key"], c["secret_key"], c.get("session_token")),
        c["service"],
        c["region"],
    )
    request.context["timestamp"] = h["x-amz-date"]
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if expected != signature:
        return False, f"signature differs from botocore's; canonical request:\n{canonical}"
    return True, "botocore computes the same signature"


if __name__ == "__main__":
    ok, why = check(json.load(sys.stdin))
    print(json.dumps({"ok": ok, "why": why}))
