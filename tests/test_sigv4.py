"""The local API's SigV4 verifier against AWS's own signer (awscrt, the AWS Common Runtime): what a
spec-correct client signs is accepted, and what AWS would refuse is refused."""

import datetime
import hashlib

import pytest
from awscrt import auth, http
from hypothesis import given
from hypothesis import strategies as st

from localdev.sigv4 import LocalCredentials, Refused, sign, verify

CREDENTIALS = LocalCredentials()
NOW = datetime.datetime(2026, 12, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
HOST = "127.0.0.1:3000"


def crt_sign(method: str, target: str, headers=(), body: bytes = b"", *, sign_every_header=False, hash_header=False):
    """The header lines of a request signed by awscrt for execute-api with the local credentials."""
    request = http.HttpRequest(method, target, http.HttpHeaders([("host", HOST), *headers]))
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=auth.AwsCredentialsProvider.new_static(
            CREDENTIALS.access_key_id, CREDENTIALS.secret_access_key
        ),
        region=CREDENTIALS.region,
        service="execute-api",
        date=NOW,
        should_sign_header=(lambda name: True) if sign_every_header else None,
        signed_body_value=hashlib.sha256(body).hexdigest(),
        signed_body_header_type=(
            auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256 if hash_header else auth.AwsSignedBodyHeaderType.NONE
        ),
    )
    return list(auth.aws_sign_request(request, config).result().headers)


def accepted(method, target, headers, body=b"") -> bool:
    try:
        verify(CREDENTIALS, method, target, headers, body, now=NOW)
        return True
    except Refused:
        return False


@pytest.mark.parametrize(
    "target",
    [
        "/prod/items?limit=%35",  # refused before; AWS decodes, then encodes (limit=5)
        "/prod/items?a=*",  # '*' is not unreserved: %2A in the canonical query
        "/prod/items?next=QQ&limit=2",  # unsorted on the wire, sorted in the canonical query
        "/prod/items?a=%7E&b=%20&c=+&d",
        "/prod/items/a:b",
        "/prod/items/a%3Ab",
        "/prod/items/./x/../y",
    ],
)
def test_a_spec_correct_signature_is_accepted(target):
    assert accepted("GET", target, crt_sign("GET", target))


def test_a_signed_user_agent_and_repeated_headers_are_accepted():
    headers = [("User-Agent", "client/1.0   (extra  spaces)"), ("X-Dup", "one"), ("X-Dup", " two ")]
    assert accepted("GET", "/prod/items", crt_sign("GET", "/prod/items", headers, sign_every_header=True))


def test_a_body_signed_with_its_hash_header_is_accepted_and_a_tampered_one_is_refused():
    signed = crt_sign("POST", "/prod/items", [("content-type", "application/json")], b'{"amount": 1}', hash_header=True)
    assert accepted("POST", "/prod/items", signed, b'{"amount": 1}')
    assert not accepted("POST", "/prod/items", signed, b'{"amount": 1000000}')


def test_a_stated_payload_hash_is_never_trusted_over_the_body():
    body = b'{"amount": 1}'
    for stated in ("UNSIGNED-PAYLOAD", hashlib.sha256(b"other").hexdigest()):
        headers = sign(CREDENTIALS, "POST", f"http://{HOST}/prod/items", {"x-amz-content-sha256": stated}, body)
        with pytest.raises(Refused, match="x-amz-content-sha256"):
            verify(CREDENTIALS, "POST", "/prod/items", [("host", HOST), *headers.items()], body)


def test_a_signature_over_the_raw_query_is_refused_as_aws_refuses_it():
    """botocore signs the query as written (limit=%35); AWS canonicalizes it (limit=5) and the two differ."""
    headers = sign(CREDENTIALS, "GET", f"http://{HOST}/prod/items?limit=%35", {}, b"")
    with pytest.raises(Refused, match="signature we calculated"):
        verify(CREDENTIALS, "GET", "/prod/items?limit=%35", [("host", HOST), *headers.items()], b"")


def test_botocore_signatures_of_plain_requests_are_accepted():
    """What the README's Python example and the tests send."""
    for target in ("/prod/items?limit=10", "/prod/items/first"):
        headers = sign(CREDENTIALS, "GET", f"http://{HOST}{target}", {}, b"")
        verify(CREDENTIALS, "GET", target, [("host", HOST), *headers.items()], b"")


@pytest.mark.parametrize("authorization", ["AWS4-HMAC-SHA256 Credential=ü/x", "AWS4-HMAC-SHA256 \udcff", "\x00"])
def test_a_malformed_authorization_header_is_refused_not_raised(authorization):
    headers = [("host", HOST), ("x-amz-date", "20261202T010000Z"), ("authorization", authorization)]
    with pytest.raises(Refused):
        verify(CREDENTIALS, "GET", "/prod/items", headers, b"")


@given(
    query=st.lists(st.tuples(st.text(min_size=1, max_size=6), st.text(max_size=6)), max_size=4).map(
        lambda pairs: "&".join(f"{n}={v}" for n, v in pairs)
    ),
    header_value=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)
def test_every_query_and_header_value_awscrt_signs_is_accepted(query, header_value):
    from urllib.parse import quote

    target = "/prod/items?" + "&".join(
        "=".join(quote(part, safe="") for part in pair.split("=", 1)) for pair in query.split("&") if pair
    )
    headers = [("x-extra", header_value)]
    assert accepted("GET", target, crt_sign("GET", target, headers, sign_every_header=True))
