"""schemathesis hooks of infra/local/contract-test (loaded through SCHEMATHESIS_HOOKS).

The local stack carries each HTTP request to the function as an API Gateway event, a
JSON document: `cargo lambda watch` cannot put a header value or a body that is not
UTF-8 text into it, and answers such a request 500 itself, before the function runs.
API Gateway delivers the same request (a binary body base64-encoded, isBase64Encoded)
and the function refuses it with a 4xx; the handler tests cover that path with
API Gateway events. Here, cases the local transport cannot carry are not generated.
"""
import schemathesis


def _text(value) -> bool:
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_case(context, case):
    for value in (case.headers or {}).values():
        if isinstance(value, str) and not value.isascii():
            return False
        if not _text(value):
            return False
    return _text(case.body)
