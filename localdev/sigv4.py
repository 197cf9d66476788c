"""SigV4 verification for the local API, as API Gateway does it for AWS_IAM methods, with local credentials.

The canonical request is built from the request as it arrived, the way AWS specifies it ("Create a
canonical request", https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
- the path as sent, normalized (RFC 3986 dot-segments) and URI-encoded once more;
- query parameters decoded, then RFC 3986-encoded (only A-Z a-z 0-9 - _ . ~ left as they are) and sorted;
- each signed header's values trimmed, inner runs of spaces collapsed, repeated headers joined with commas;
- the SHA-256 of the body received, never a hash the client states: a signed x-amz-content-sha256 that is
  not the body's hash (UNSIGNED-PAYLOAD included) is refused.
botocore's signer is a client's: it trusts x-amz-content-sha256, leaves the query as written and never
signs User-Agent, so a verifier built on it accepts a tampered body and refuses spec-correct signers;
tests/test_sigv4.py checks this verifier against AWS's own signer (awscrt).

Checked, in API Gateway's order: an Authorization header at all; its algorithm and form; the access key;
the credential scope (date, region, service `execute-api`); that host and x-amz-date are signed; the
request time (API Gateway refuses signatures more than 5 minutes off); the signature itself. Each refusal
names the gateway response type API Gateway would use, so the caller renders the template's body for it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_to_bytes, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path, percent_encode

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Fixed defaults, so the README's signed examples work as written; override with --access-key-id etc.
LOCAL_ACCESS_KEY_ID = "AKIALOCALEXAMPLE0001"
LOCAL_SECRET_ACCESS_KEY = "local-secret-access-key-for-the-local-api"


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str = LOCAL_ACCESS_KEY_ID
    secret_access_key: str = LOCAL_SECRET_ACCESS_KEY
    region: str = "us-east-1"


LOCAL_CREDENTIALS = LocalCredentials()


class Refused(Exception):
    """A request API Gateway would refuse before the function: the gateway response type and its message."""

    def __init__(self, response_type: str, message: str):
        super().__init__(message)
        self.response_type = response_type
        self.message = message


def verify(
    credentials: LocalCredentials,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    now: datetime | None = None,
) -> None:
    """Returns if the request is signed by `credentials` for execute-api in their region; raises Refused if not.

    `target` is the request target as sent (path and query, still percent-encoded); `headers` every header
    line received, in order, repeated names included.
    """
    values = _header_values(headers)
    authorization = ",".join(values.get("authorization", []))
    if not authorization:
        raise Refused("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    if not authorization.isascii():
        raise Refused("INVALID_SIGNATURE", "The Authorization header must be ASCII")
    fields = _authorization_fields(authorization)
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise Refused("INVALID_SIGNATURE", "Credential is not of the form <key>/<date>/<region>/<service>/aws4_request")
    access_key, scope_date, region, service, _ = credential
    if not hmac.compare_digest(access_key.encode(), credentials.access_key_id.encode()):
        raise Refused("INVALID_SIGNATURE", "The security token included in the request is invalid.")
    if service != SERVICE or region != credentials.region:
        raise Refused(
            "INVALID_SIGNATURE", f"Credential should be scoped to service '{SERVICE}' in region '{credentials.region}'"
        )
    signed_headers = fields["SignedHeaders"].split(";")
    if signed_headers != sorted(set(signed_headers)) or any(name != name.lower() for name in signed_headers):
        raise Refused("INVALID_SIGNATURE", "SignedHeaders must be lowercase names, sorted, each once")
    if not {"host", "x-amz-date"} <= set(signed_headers):
        raise Refused("INVALID_SIGNATURE", "host and x-amz-date must be signed headers")
    if any(name not in values for name in signed_headers):
        raise Refused("INVALID_SIGNATURE", "A signed header is missing from the request")
    amz_date = ",".join(values["x-amz-date"])
    request_time = _request_time(amz_date, scope_date)
    current = now or datetime.now(UTC)
    if abs(current - request_time) > MAX_CLOCK_SKEW:
        raise Refused("INVALID_SIGNATURE", f"Signature expired: {amz_date} is more than 5 minutes from the server time")
    body_hash = hashlib.sha256(body or b"").hexdigest()
    if values.get("x-amz-content-sha256", [body_hash]) != [body_hash]:
        raise Refused("INVALID_SIGNATURE", "The provided x-amz-content-sha256 header does not match what was computed.")
    canonical = canonical_request(method, target, {name: values[name] for name in signed_headers}, body_hash)
    expected = _signature(credentials, canonical, amz_date, scope_date)
    if not hmac.compare_digest(expected.encode(), fields["Signature"].encode()):
        raise Refused(
            "INVALID_SIGNATURE",
            "The request signature we calculated does not match the signature you provided.",
        )


def canonical_request(method: str, target: str, signed_headers: dict[str, list[str]], body_hash: str) -> str:
    """AWS's canonical request for a request as received (see the module docstring for each part)."""
    url = urlsplit(target)
    return "\n".join(
        [
            method,
            percent_encode(_wire_bytes(normalize_url_path(url.path or "/")), safe="/~-_."),
            _canonical_query(url.query),
            "".join(f"{name}:{_canonical_header_value(signed_headers[name])}\n" for name in signed_headers),
            ";".join(signed_headers),
            body_hash,
        ]
    )


def _canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((_rfc3986(name), _rfc3986(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _rfc3986(sent: str) -> str:
    """A query name or value as sent, decoded to its bytes and encoded again the one way RFC 3986 allows."""
    return percent_encode(unquote_to_bytes(_wire_bytes(sent)), safe="-_.~")


def _wire_bytes(text: str) -> bytes:
    """http.server decodes the request line and headers as ISO-8859-1: encoded back, they are the bytes sent."""
    return text.encode("latin-1", "replace")


def _canonical_header_value(values: list[str]) -> str:
    return ",".join(re.sub(" +", " ", value.strip()) for value in values)


def _header_values(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value)
    return values


def _authorization_fields(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise Refused("INVALID_SIGNATURE", f"Authorization header must use {ALGORITHM}")
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        raise Refused("INVALID_SIGNATURE", "Authorization header needs Credential, SignedHeaders and Signature")
    return fields


def _request_time(amz_date: str, scope_date: str) -> datetime:
    try:
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise Refused("INVALID_SIGNATURE", "x-amz-date must be of the form YYYYMMDD'T'HHMMSS'Z'") from None
    if moment.strftime("%Y%m%d") != scope_date:
        raise Refused("INVALID_SIGNATURE", "The credential scope's date is not the date of x-amz-date")
    return moment


def _signature(credentials: LocalCredentials, canonical: str, amz_date: str, scope_date: str) -> str:
    """The string to sign and the derived signing key, as AWS specifies them (same IAM guide page)."""
    scope = f"{scope_date}/{credentials.region}/{SERVICE}/aws4_request"
    canonical_hash = hashlib.sha256(_wire_bytes(canonical)).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, canonical_hash])
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (scope_date, credentials.region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(credentials: LocalCredentials, method: str, url: str, headers: dict, body: bytes) -> dict:
    """The headers of a request signed with botocore for execute-api (what a client does; used by tests)."""
    request = AWSRequest(method=method, url=url, headers=headers, data=body or b"")
    SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key), SERVICE, credentials.region
    ).add_auth(request)
    return dict(request.headers.items())
