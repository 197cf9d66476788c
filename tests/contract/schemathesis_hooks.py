"""Schemathesis hooks for the items API's contract (loaded through SCHEMATHESIS_HOOKS).

- `page-token` is the document's format for the opaque `next` token. A valid one is what a previous page
  returned, the unpadded base64url of an item id, so the fuzzer makes such tokens for "valid" requests
  (the document's pattern gives the token's shape, not which decoded ids exist).
- `sigv4` is the document's security scheme. The auth provider marks a request as authenticated; the
  request is then signed with botocore's SigV4 for execute-api and the local credentials just before it
  is sent, over the final URL and body. Schemathesis' own probes (no credentials, invalid credentials)
  replace the mark, so they go out unsigned or wrongly signed, as its auth checks intend.
"""

import base64
import json

import requests
import schemathesis
from hypothesis import strategies as st

from localdev.sigv4 import LocalCredentials, sign

ITEM_ID = st.from_regex(r"[A-Za-z0-9_.:-]{1,128}", fullmatch=True).filter(lambda item_id: item_id not in (".", ".."))
TO_BE_SIGNED = "SigV4 (signed at send time)"

schemathesis.openapi.format(
    "page-token",
    ITEM_ID.map(lambda item_id: base64.urlsafe_b64encode(item_id.encode()).decode().rstrip("=")),
)


class SignWithLocalCredentials(requests.auth.AuthBase):
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        to_sign = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        signed = sign(LocalCredentials(), request.method, request.url, to_sign, body)
        request.headers["Authorization"] = signed["Authorization"]
        request.headers["X-Amz-Date"] = signed["X-Amz-Date"]
        return request


@schemathesis.auth()
class SigV4:
    def get(self, case, context):
        return TO_BE_SIGNED

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": data}


@schemathesis.hook
def before_call(context, case, kwargs):
    if (case.headers or {}).get("Authorization") == TO_BE_SIGNED:
        kwargs["auth"] = SignWithLocalCredentials()


@schemathesis.hook
def map_body(context, body):
    """DynamoDB refuses empty attribute names, a rule OpenAPI 3.0 cannot state (no propertyNames): generated
    documents get a non-empty name instead, so "valid" bodies are valid. The rule is tested in test_handler."""
    return _named(body)


def _named(value):
    if isinstance(value, dict):
        return {(name or "unnamed"): _named(child) for name, child in value.items()}
    if isinstance(value, list):
        return [_named(child) for child in value]
    return value


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """API Gateway answers a request without SigV4 with 403 MISSING_AUTHENTICATION_TOKEN, not 401, and the
    document says so; schemathesis expects 401 for a missing Authorization header. That one finding is the
    documented behaviour of AWS, not a defect; every other failure is kept."""
    missing_authorization = (
        type(failure).__name__ == "MissingHeaderNotRejected"
        and failure.header_name.lower() == "authorization"
        and response.status_code == 403
        and json.loads(response.content)["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
    )
    return not missing_authorization
