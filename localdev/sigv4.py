"""SigV4 verification for the local API, as API Gateway does it for AWS_IAM methods, with local credentials.

The signature is recomputed with botocore's own SigV4 implementation (canonical request, string to sign,
signing key) from the request as received, and compared in constant time. Checked, in API Gateway's
order: an Authorization header at all; its algorithm and form; the access key; the credential scope
(date, region, service `execute-api`); that host and x-amz-date are signed; the request time (API
Gateway refuses signatures more than 5 minutes off); the signature itself. Each refusal names the
gateway response type API Gateway would use, so the caller renders the template's body for it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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


class Refused(Exception):
    """A request API Gateway would refuse before the function: the gateway response type and its message."""

    def __init__(self, response_type: str, message: str):
        super().__init__(message)
        self.response_type = response_type
        self.message = message


def verify(
    credentials: LocalCredentials, method: str, url: str, headers: dict, body: bytes, *, now: datetime | None = None
) -> None:
    """Returns if the request is signed by `credentials` for execute-api in their region; raises Refused if not."""
    lowered = {name.lower(): value for name, value in headers.items()}
    authorization = lowered.get("authorization")
    if not authorization:
        raise Refused("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    fields = _authorization_fields(authorization)
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise Refused("INVALID_SIGNATURE", "Credential is not of the form <key>/<date>/<region>/<service>/aws4_request")
    access_key, scope_date, region, service, _ = credential
    if not hmac.compare_digest(access_key, credentials.access_key_id):
        raise Refused("INVALID_SIGNATURE", "The security token included in the request is invalid.")
    if service != SERVICE or region != credentials.region:
        raise Refused(
            "INVALID_SIGNATURE", f"Credential should be scoped to service '{SERVICE}' in region '{credentials.region}'"
        )
    signed_headers = fields["SignedHeaders"].split(";")
    if not {"host", "x-amz-date"} <= set(signed_headers):
        raise Refused("INVALID_SIGNATURE", "host and x-amz-date must be signed headers")
    if any(name not in lowered for name in signed_headers):
        raise Refused("INVALID_SIGNATURE", "A signed header is missing from the request")
    request_time = _request_time(lowered["x-amz-date"], scope_date)
    current = now or datetime.now(timezone.utc)
    if abs(current - request_time) > MAX_CLOCK_SKEW:
        raise Refused(
            "INVALID_SIGNATURE",
            f"Signature expired: {lowered['x-amz-date']} is more than 5 minutes from the server time",
        )
    expected = _signature(credentials, method, url, {n: lowered[n] for n in signed_headers}, body, lowered["x-amz-date"])
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise Refused(
            "INVALID_SIGNATURE",
            "The request signature we calculated does not match the signature you provided.",
        )


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
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise Refused("INVALID_SIGNATURE", "x-amz-date must be of the form YYYYMMDD'T'HHMMSS'Z'") from None
    if moment.strftime("%Y%m%d") != scope_date:
        raise Refused("INVALID_SIGNATURE", "The credential scope's date is not the date of x-amz-date")
    return moment


def _signature(credentials, method, url, signed_headers, body, amz_date) -> str:
    """botocore's SigV4 over exactly the headers the client signed, at the client's x-amz-date."""
    signer = SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key), SERVICE, credentials.region
    )
    request = AWSRequest(method=method, url=url, headers=signed_headers, data=body or b"")
    request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


def sign(credentials: LocalCredentials, method: str, url: str, headers: dict, body: bytes) -> dict:
    """The headers of a request signed with botocore for execute-api (what a client does; used by tests)."""
    request = AWSRequest(method=method, url=url, headers=headers, data=body or b"")
    SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key), SERVICE, credentials.region
    ).add_auth(request)
    return dict(request.headers.items())
