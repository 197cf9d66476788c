"""The local API on the wire: raw bytes in, exactly one well-formed HTTP response out (parsed by h11), a
JSON body, no 5xx but the documented 502, and no write for a request answered 4xx.

Explicit examples for each class of malformed request line, then a property search over request lines,
header lines, lengths, chunked framing and bodies, some of them validly signed so they reach the function.
"""

import hashlib
import json
import socket

import boto3
import h11
import pytest
from awscrt import auth, http
from hypothesis import example, given
from hypothesis import strategies as st

from api import contract
from localdev.api import LocalApi
from localdev.sigv4 import LocalCredentials, sign
from conftest import items_table, local_api_definition

STAGE = f"/{contract.stage()}"
ITEMS = f"{STAGE}/items"
PATHS = [ITEMS, f"{ITEMS}/wire-1", f"{ITEMS}/missing", f"{ITEMS}/..", STAGE, "/openapi.json", "*"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]


@pytest.fixture(scope="module")
def wire(synth, local_dynamodb):
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "wire")
    table = items_table(api)
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, contract=contract.load())
    server.start()
    client = boto3.client("dynamodb", endpoint_url=local_dynamodb.endpoint_url)
    yield Wire(server, lambda: client.scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"])
    server.stop()


class Wire:
    def __init__(self, server: LocalApi, count_items):
        self.server = server
        self.port = server._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.count_items = count_items

    def exchange(self, raw: bytes, method: str) -> tuple[h11.Response, bytes]:
        """Sends `raw` (one request) then half-closes: the one well-formed final response and its body."""
        [answer] = self.exchange_all(raw, method)
        return answer

    def exchange_all(self, raw: bytes, method: str) -> list[tuple[h11.Response, bytes]]:
        """Every response to `raw`, each checked to be whole HTTP/1.1 (informational ones skipped)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as connection:
            connection.sendall(raw)
            connection.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        client = h11.Connection(h11.CLIENT)
        client.receive_data(received)
        client.receive_data(b"")
        answers = []
        while True:
            # h11 is told the method so that it frames a HEAD response (headers only) as HTTP does; bytes left
            # after the first request are requests of unknown method, taken as GET.
            sent_method = method if method in METHODS and not answers else "GET"
            client.send(h11.Request(method=sent_method, target="/", headers=[("Host", "x")]))
            client.send(h11.EndOfMessage())
            response, body = None, b""
            while not isinstance(event := client.next_event(), h11.EndOfMessage):
                if isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif not isinstance(event, h11.InformationalResponse):
                    raise AssertionError(f"incomplete response: {event!r} after {received[:300]!r}")
            answers.append((response, body))
            if client.their_state is h11.MUST_CLOSE or client.trailing_data == (b"", True):
                break
            client.start_next_cycle()
        assert client.trailing_data[0] == b"", f"bytes after the last response: {client.trailing_data!r}"
        return answers

    def signed_request(self, method: str, target: str, body: bytes = b"", headers=()) -> bytes:
        signed = sign(LocalCredentials(), method, f"http://{self.host}{target}", dict(headers), body)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}", *(f"{k}: {v}" for k, v in signed.items())]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_json_answers(wire: Wire, raw: bytes, method: str, *, one_request: bool = True) -> list[int]:
    """Sends raw bytes; checks each answer: no 5xx but 502, JSON (headers only for HEAD), no write if all 4xx.

    one_request: the bytes frame exactly one request, so exactly one answer is due; otherwise the bytes left
    after the first request's framing are requests of their own, answered (or the connection closed) too.
    """
    before = wire.count_items()
    answers = wire.exchange_all(raw, method)
    assert answers and (len(answers) == 1 or not one_request), [a[0] for a in answers]
    statuses = []
    for index, (response, body) in enumerate(answers):
        status = response.status_code
        assert status < 500 or status == 502, (status, body[:300])
        if method == "HEAD" and index == 0:
            assert body == b""
        elif status != 204:
            json.loads(body)  # every answer is JSON, whatever was sent
        statuses.append(status)
    if min(statuses) >= 400:
        assert wire.count_items() == before, "a request answered 4xx wrote nothing"
    return statuses


def assert_one_json_answer(wire: Wire, raw: bytes, method: str) -> int:
    [status] = assert_json_answers(wire, raw, method)
    return status


# Signatures over what arrived ---------------------------------------------------------------------------------


def test_a_body_tampered_after_signing_its_hash_is_refused_and_not_stored(wire):
    signed = sign(
        LocalCredentials(),
        "POST",
        f"http://{wire.host}{ITEMS}",
        {"Content-Type": "application/json", "x-amz-content-sha256": hashlib.sha256(b'{"amount": 1}').hexdigest()},
        b'{"amount": 1}',
    )
    forged = b'{"amount": 1000000}'
    lines = [
        f"POST {ITEMS} HTTP/1.1",
        f"Host: {wire.host}",
        *(f"{k}: {v}" for k, v in signed.items()),
        f"Content-Length: {len(forged)}",
    ]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + forged
    before = wire.count_items()
    response, body = wire.exchange(raw, "POST")
    assert response.status_code == 403 and json.loads(body)["error"]["code"] == "INVALID_SIGNATURE"
    assert wire.count_items() == before


def test_a_spec_correct_signer_reaches_the_function(wire):
    target = f"{ITEMS}?limit=%35"
    request = http.HttpRequest("GET", target, http.HttpHeaders([("host", wire.host), ("user-agent", "crt/1")]))
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=auth.AwsCredentialsProvider.new_static(
            LocalCredentials().access_key_id, LocalCredentials().secret_access_key
        ),
        region="us-east-1",
        service="execute-api",
        should_sign_header=lambda name: True,
    )
    signed = auth.aws_sign_request(request, config).result()
    raw = (f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers) + "\r\n").encode()
    response, body = wire.exchange(raw, "GET")
    assert response.status_code == 200 and "items" in json.loads(body)


def test_a_non_ascii_authorization_header_gets_a_json_403(wire):
    raw = f"GET {ITEMS} HTTP/1.1\r\nHost: {wire.host}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=\xe9\r\n\r\n"
    response, body = wire.exchange(raw.encode("latin-1"), "GET")
    assert response.status_code == 403 and json.loads(body)["error"]["code"] == "INVALID_SIGNATURE"


# Framing --------------------------------------------------------------------------------------------------------


def test_a_head_response_has_headers_only(wire):
    response, body = wire.exchange(wire.signed_request("HEAD", ITEMS), "HEAD")
    assert response.status_code == 403 and body == b""


def test_two_requests_on_one_connection_get_two_whole_answers(wire):
    with socket.create_connection(("127.0.0.1", wire.port), timeout=20) as connection:
        stream = connection.makefile("rwb")
        for method in ("HEAD", "GET"):
            stream.write(wire.signed_request(method, ITEMS))
            stream.flush()
            status_line = stream.readline()
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            body = b"" if method == "HEAD" else stream.read(int(headers["content-length"]))
            assert status_line.startswith(b"HTTP/1.1 ")
            if method == "GET":
                assert status_line.split()[1] == b"200" and "items" in json.loads(body)


@pytest.mark.parametrize("length", ["abc", "-1", "1.5", "0x10", "1, 2", " ", "99999999999999999999999"])
def test_a_bad_content_length_is_a_400_or_413_and_nothing_runs(wire, length):
    body = b'{"id": "should-not-exist"}'
    raw = wire.signed_request("POST", ITEMS, body).replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {length}".encode()
    )
    status = assert_one_json_answer(wire, raw, "POST")
    assert status in (400, 413)


def test_conflicting_lengths_are_refused(wire):
    raw = wire.signed_request("POST", ITEMS, b"{}")
    for extra in (b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n"):
        assert assert_one_json_answer(wire, raw.replace(b"\r\n\r\n", b"\r\n" + extra + b"\r\n", 1), "POST") == 400


def test_a_chunked_body_is_read_as_sent(wire):
    body = b'{"id": "chunked-1", "n": 1}'
    signed = wire.signed_request("POST", ITEMS, body, {"Content-Type": "application/json"})
    head = signed[: signed.index(b"\r\n\r\n")].replace(
        f"Content-Length: {len(body)}".encode(), b"Transfer-Encoding: chunked"
    )
    chunked = b"5\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x};ext=1\r\n".encode() + body[5:] + b"\r\n0\r\n\r\n"
    response, answer = wire.exchange(head + b"\r\n\r\n" + chunked, "POST")
    assert response.status_code == 201 and json.loads(answer)["id"] == "chunked-1"


@pytest.mark.parametrize("chunks", [b"zz\r\nab\r\n0\r\n\r\n", b"5\r\nab\r\n0\r\n\r\n", b"3\r\nabc", b"-1\r\n"])
def test_a_malformed_chunked_body_is_a_400(wire, chunks):
    raw = wire.signed_request("POST", ITEMS).replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    assert assert_one_json_answer(wire, raw + chunks, "POST") == 400


def test_a_deeply_nested_body_is_a_400_json(wire):
    body = b"[" * 100_000 + b"]" * 100_000
    status = assert_one_json_answer(wire, wire.signed_request("POST", ITEMS, body), "POST")
    assert status == 400


# Platform limits, as API Gateway answers them -----------------------------------------------------------------


def test_a_body_over_api_gateways_10_mb_is_a_413_unread(wire):
    raw = wire.signed_request("POST", ITEMS, b"").replace(
        b"Content-Length: 0", f"Content-Length: {contract.limits.API_GATEWAY_PAYLOAD_BYTES + 1}".encode()
    )
    response, body = wire.exchange(raw, "POST")
    assert response.status_code == 413 and json.loads(body)["error"]["code"] == "REQUEST_TOO_LARGE"


def test_a_body_whose_event_exceeds_lambdas_6_mb_is_a_413(wire):
    body = json.dumps({"blob": "x" * (contract.limits.LAMBDA_SYNC_PAYLOAD_BYTES + 1)}).encode()
    status = assert_one_json_answer(
        wire, wire.signed_request("POST", ITEMS, body, {"Content-Type": "text/plain"}), "POST"
    )
    assert status == 413


def test_a_body_within_lambdas_limit_reaches_the_function_which_judges_it(wire):
    body = json.dumps({"blob": "x" * 500_000}).encode()
    response, answer = wire.exchange(
        wire.signed_request("POST", ITEMS, body, {"Content-Type": "application/json"}), "POST"
    )
    assert response.status_code == 413 and json.loads(answer)["error"]["code"] == "ItemTooLarge"


@pytest.mark.parametrize(
    "target",
    [
        f"{ITEMS}/" + "a" * (contract.limits.API_GATEWAY_METHOD_ARN_BYTES - 50),  # method ARN over 1600 bytes
        f"{ITEMS}?next=" + "a" * contract.limits.API_GATEWAY_REGIONAL_URL_CHARS,  # URL over 10240 characters
    ],
)
def test_an_over_long_uri_is_a_414(wire, target):
    response, body = wire.exchange(wire.signed_request("GET", target), "GET")
    assert response.status_code == 414 and json.loads(body)["error"]["code"] == "URI_TOO_LONG"


# The property: whatever arrives ------------------------------------------------------------------------------

tokens = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)
header_names = (
    st.sampled_from(
        [
            "Content-Length",
            "Transfer-Encoding",
            "Content-Type",
            "Authorization",
            "X-Amz-Date",
            "Expect",
            "Connection",
            "Host",
            "User-Agent",
            "x-amz-content-sha256",
        ]
    )
    | tokens
)
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\r\n"), max_size=40),
    st.sampled_from(
        [
            "chunked",
            "gzip, chunked",
            "100-continue",
            "close",
            "keep-alive",
            "-1",
            "abc",
            "0",
            "application/json",
            "UNSIGNED-PAYLOAD",
            "AWS4-HMAC-SHA256 Credential=x",
        ]
    ),
    st.integers(min_value=-5, max_value=2**70).map(str),
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"{}", b'{"id": "wire-1"}', b"[" * 5000, b"0\r\n\r\n", b"5\r\nabc\r\n0\r\n\r\n"]),
)


@st.composite
def raw_requests(draw) -> tuple[bytes, str]:
    method = draw(st.sampled_from(METHODS) | tokens)
    target = draw(st.sampled_from(PATHS) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=60))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", "", "http/1.1"]))
    body = draw(bodies)
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=6))
    framing = draw(st.sampled_from(["exact", "declared", "chunked", "none"]))
    clean_framing = framing in ("exact", "chunked") and not any(
        name.lower() in ("content-length", "transfer-encoding") for name, _ in headers
    )
    if framing == "exact":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
    request_line = " ".join(part for part in (method, target, version) if part)
    if draw(st.booleans()) and method in METHODS and target.startswith(STAGE) and version == "HTTP/1.1":
        # Validly signed, so that the function runs for some of them.
        signed = sign(LocalCredentials(), method, f"http://127.0.0.1{target}", {}, body)
        headers = [("Host", "127.0.0.1"), *signed.items(), *headers]
    head = request_line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("latin-1", "replace") + body, method, clean_framing or not body


@given(request=raw_requests())
# Found by this search: answered without a status line (HTTP/0.9), a HEAD answer with a body, a 505.
@example(request=(b"GET HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "GET", True))
@example(request=(f"HEAD {ITEMS} HTTP/2.0\r\nContent-Length: 0\r\n\r\n".encode(), "HEAD", True))
@example(request=(b"HEAD\r\nContent-Length: 0\r\n\r\n", "HEAD", True))
def test_any_bytes_get_exactly_one_json_answer_per_request_and_a_refused_request_writes_nothing(wire, request):
    raw, method, one_request = request
    assert_json_answers(wire, raw, method, one_request=one_request)
