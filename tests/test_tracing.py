"""Every DynamoDB call the function makes reaches the X-Ray daemon as a subsegment of the invocation's trace.

A UDP socket on 127.0.0.1 stands in for the daemon. Each datagram must be the daemon protocol's header line and
one segment document with the fields the X-Ray developer guide documents for a subsegment ("AWS X-Ray segment
documents"): SUBSEGMENT below states them as JSON Schema. (AWS's own schema file is a download from the guide,
which this machine cannot reach; it is not vendored.) Each document is also put, as the daemon would, to an
X-Ray implementation written by others: moto's PutTraceSegments, served by the session's local server, which
must process it.
"""

import json
import logging
import socket
import uuid

import boto3
import pytest
from jsonschema import Draft202012Validator

from conftest import ApiClient, items_function_spec, items_table, local_api_definition
from fault_proxy import ThrottlingProxy

ROOT = "1-67a2b3c4-0123456789abcdef01234567"
PARENT = "53995c3f42cd8ad8"
HEX16 = {"type": "string", "pattern": "^[0-9a-f]{16}$"}
SUBSEGMENT = Draft202012Validator(
    {
        "type": "object",
        "required": ["name", "id", "trace_id", "parent_id", "type", "start_time", "end_time", "namespace", "aws"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "id": HEX16,
            "parent_id": HEX16,
            "trace_id": {"type": "string", "pattern": "^1-[0-9a-f]{8}-[0-9a-f]{24}$"},
            "type": {"const": "subsegment"},
            "namespace": {"enum": ["aws", "remote"]},
            "start_time": {"type": "number"},
            "end_time": {"type": "number"},
            "error": {"type": "boolean"},
            "throttle": {"type": "boolean"},
            "fault": {"type": "boolean"},
            "http": {
                "type": "object",
                "properties": {"response": {"type": "object", "properties": {"status": {"type": "integer"}}}},
            },
            "aws": {
                "type": "object",
                "required": ["operation"],
                "properties": {
                    "operation": {"type": "string"},
                    "table_name": {"type": "string"},
                    "request_id": {"type": ["string", "null"]},
                    "retries": {"type": ["integer", "null"]},
                },
            },
            "cause": {"type": "object"},
        },
    }
)


_XRAY = None


def _put_as_the_daemon_would(document: bytes) -> None:
    answer = _XRAY.put_trace_segments(TraceSegmentDocuments=[document.decode()])
    assert answer["UnprocessedTraceSegments"] == [], answer


@pytest.fixture(autouse=True)
def xray_service(local_dynamodb):
    """moto's X-Ray on the session's local server (it serves every service moto has)."""
    global _XRAY
    _XRAY = boto3.client("xray", endpoint_url=local_dynamodb.endpoint_url)
    yield


@pytest.fixture
def daemon():
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2)
    yield listener
    listener.close()


def received(daemon, timeout: float = 2) -> list[dict]:
    """Every segment document the daemon received, each checked against the daemon protocol and the schema."""
    documents = []
    daemon.settimeout(timeout)
    while True:
        try:
            datagram = daemon.recv(65536)
        except TimeoutError:
            return documents
        header, _, body = datagram.partition(b"\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        document = json.loads(body)
        SUBSEGMENT.validate(document)
        _put_as_the_daemon_would(body)
        assert document["start_time"] <= document["end_time"]
        documents.append(document)
        daemon.settimeout(0.3)


@pytest.fixture
def traced(handler_module, local_dynamodb, synth, daemon):
    """A function built as the entry point builds it, on its own client, sending to the test's daemon; its
    environment is a dict the test may change between requests (as Lambda sets _X_AMZN_TRACE_ID per invocation)."""
    from dynamodb_client import create_client

    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, uuid.uuid4().hex[:12])
    spec = items_function_spec(api)
    environment = {
        **spec.environment,
        "_X_AMZN_TRACE_ID": f"Root={ROOT};Parent={PARENT};Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
    }

    def build(endpoint_url=local_dynamodb.endpoint_url, config=handler_module.CLIENT_CONFIG):
        client = create_client(config, endpoint_url=endpoint_url)
        return handler_module.ItemsFunction.from_environment(environment, client)

    return build, environment, items_table(api)


def test_a_sampled_invocation_sends_each_dynamodb_call_under_the_functions_segment(traced, daemon, stage):
    build, _, table = traced
    api = ApiClient(build(), stage)
    assert api.request("POST", "/items", body={"id": "traced-1"}).status == 201
    assert api.request("GET", "/items/traced-1").status == 200
    put, get = received(daemon)
    assert (put["aws"]["operation"], get["aws"]["operation"]) == ("PutItem", "GetItem")
    for document in (put, get):
        assert (document["trace_id"], document["parent_id"], document["namespace"]) == (ROOT, PARENT, "aws")
        assert document["aws"]["table_name"] == table and document["aws"]["request_id"]
        assert document["http"]["response"]["status"] == 200 and document["aws"]["retries"] == 0
        assert not (document["error"] or document["throttle"] or document["fault"])
    assert put["id"] != get["id"]


@pytest.mark.parametrize(
    "header",
    [
        f"Root={ROOT};Parent={PARENT};Sampled=0",
        f"Root={ROOT};Sampled=1",
        "garbage",
        "",
        f"Root=1-x;Parent={PARENT};Sampled=1",
    ],
    ids=["unsampled", "no-parent", "garbage", "empty", "bad-root"],
)
def test_an_unsampled_or_unreadable_trace_header_sends_nothing_and_serves_the_request(traced, daemon, stage, header):
    build, environment, _ = traced
    environment["_X_AMZN_TRACE_ID"] = header
    assert ApiClient(build(), stage).request("POST", "/items", body={"id": "quiet"}).status == 201
    assert received(daemon, timeout=0.5) == []


def test_a_refused_conditional_write_is_an_error_with_its_cause(traced, daemon, stage):
    build, _, _ = traced
    api = ApiClient(build(), stage)
    api.request("POST", "/items", body={"id": "twice"})
    assert api.request("POST", "/items", body={"id": "twice"}).status == 409
    _, refused = received(daemon)
    assert refused["error"] and not refused["fault"] and not refused["throttle"]
    assert refused["http"]["response"]["status"] == 400
    assert refused["cause"]["exceptions"][0]["type"] == "ConditionalCheckFailedException"


def test_a_throttled_call_retried_then_raised_is_flagged_as_throttled(traced, daemon, local_dynamodb, stage):
    build, _, _ = traced
    with ThrottlingProxy(local_dynamodb.endpoint_url, throttle_first=100) as proxy:
        function = build(proxy.endpoint_url)
        with pytest.raises(Exception, match="ThrottlingException"):
            ApiClient(function, stage).request("GET", "/items/anything")
    [throttled] = received(daemon)
    assert throttled["throttle"] and throttled["error"] and not throttled["fault"]
    assert throttled["aws"]["retries"] == 2, "three attempts: the client's retry configuration"


@pytest.fixture
def silent_server():
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def closed_port():
    """A port nothing listens on (bound, then closed: connections to it are refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [("closed_port", "EndpointConnectionError"), ("silent_server", "ReadTimeoutError")],
    ids=["connection-refused", "read-timeout"],
)
def test_a_transport_failure_is_raised_as_itself_and_sent_as_a_fault(
    traced, daemon, stage, request, handler_module, caplog, endpoint, error
):
    """botocore's after-call-error carries no operation model, only the exception and the context
    (botocore/client.py): the shipped instrumentation must take that, so the alarm's invocation fails with the
    real cause and the trace shows the call as a fault. Short timeouts only to keep the test fast."""
    from botocore.config import Config

    build, _, table = traced
    quick = handler_module.CLIENT_CONFIG.merge(Config(connect_timeout=0.2, read_timeout=0.2))
    function = build(request.getfixturevalue(endpoint), quick)
    with caplog.at_level(logging.INFO, logger="items"):
        with pytest.raises(Exception) as raised:
            ApiClient(function, stage).request("GET", "/items/unreachable")
    assert type(raised.value).__name__ == error
    [fault] = received(daemon)
    assert fault["fault"] and not fault["error"] and not fault["throttle"] and "http" not in fault
    assert (fault["aws"]["operation"], fault["aws"]["table_name"]) == ("GetItem", table)
    assert fault["cause"]["exceptions"][0]["type"] == error
    [line] = [r for r in caplog.records if r.name == "items"]
    assert line.failure == error and line.status is None and line.dynamodb_ms > 0
    assert not [r for r in caplog.records if r.name == "items.tracing"], "no tracing warning: nothing failed there"


def test_a_daemon_that_cannot_be_reached_costs_one_warning_and_no_request(traced, stage, caplog):
    build, environment, _ = traced
    environment["AWS_XRAY_DAEMON_ADDRESS"] = "daemon.invalid:2000"
    api = ApiClient(build(), stage)
    with caplog.at_level(logging.WARNING, logger="items.tracing"):
        assert api.request("POST", "/items", body={"id": "undelivered"}).status == 201
        assert api.request("GET", "/items/undelivered").status == 200
    warnings = [r for r in caplog.records if r.name == "items.tracing"]
    assert len(warnings) == 1 and "not sent" in warnings[0].getMessage()


def test_every_log_line_carries_the_trace_and_request_ids_and_the_time_in_dynamodb(traced, stage, caplog):
    build, _, _ = traced
    with caplog.at_level(logging.INFO, logger="items"):
        ApiClient(build(), stage).request("POST", "/items", body={"id": "logged-trace"})
    [line] = [r for r in caplog.records if r.name == "items"]
    assert line.trace_id == ROOT and line.request_id
    assert 0 < line.dynamodb_ms <= line.duration_ms
