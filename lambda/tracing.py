"""Every DynamoDB call as an X-Ray subsegment of the function's trace, sent to the X-Ray daemon over UDP.

Lambda's active tracing records the invocation; what the function calls is invisible unless the function
reports it. This module does that with the daemon's documented protocol (X-Ray developer guide, "Sending
segment documents to the X-Ray daemon": a UDP datagram holding the header `{"format": "json", "version": 1}`,
a newline, and one segment document) from botocore's own event hooks, so it adds no SDK to the cold start.
The X-Ray SDKs are in maintenance mode and reach end of support on 2027-02-25; their botocore patch also
cost +0.67x of the cold-start floor here (bench/README.md).

Where it reads from, as Lambda sets them (Lambda developer guide, "Defined runtime environment variables"):
- `_X_AMZN_TRACE_ID`, per invocation: `Root=1-...;Parent=<16 hex>;Sampled=1|0`. Only a sampled invocation
  with a parent sends anything; a missing or malformed header sends nothing.
- `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `udp:host:port tcp:host:port`.

Telemetry never fails a request: any error while recording or sending is swallowed after one warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time

HEADER = b'{"format": "json", "version": 1}\n'
TRACE_HEADER = re.compile(r"(?:^|;)\s*(?P<key>Root|Parent|Sampled)=(?P<value>[^;]*)")
TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
SEGMENT_ID = re.compile(r"[0-9a-f]{16}")
DEFAULT_DAEMON = ("127.0.0.1", 2000)
# DynamoDB answers throttling with HTTP 400 and one of these codes (DynamoDB developer guide, "Error handling").
THROTTLING_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})

logger = logging.getLogger("items.tracing")


def trace_context(header: str | None) -> dict[str, str]:
    """Root, Parent and Sampled of an X-Ray trace header; keys whose value is malformed are left out."""
    found = {match["key"]: match["value"].strip() for match in TRACE_HEADER.finditer(header or "")}
    if not TRACE_ID.fullmatch(found.get("Root", "")):
        found.pop("Root", None)
    if not SEGMENT_ID.fullmatch(found.get("Parent", "")):
        found.pop("Parent", None)
    return found


def daemon_address(setting: str | None) -> tuple[str, int]:
    """The daemon's UDP address from AWS_XRAY_DAEMON_ADDRESS (`host:port` or `udp:host:port tcp:host:port`)."""
    for part in (setting or "").split():
        if part.startswith("udp:") or ":" in part and not part.startswith("tcp:"):
            host, _, port = part.removeprefix("udp:").rpartition(":")
            if host and port.isdigit():
                return host, int(port)
    return DEFAULT_DAEMON


class DynamoDBTracer:
    """Hooks a botocore DynamoDB client: one subsegment per API call (retries included), and the time spent."""

    def __init__(self, environment=os.environ, clock=time.time):
        self._environment = environment
        self._clock = clock
        self._socket: socket.socket | None = None
        self._warned = False
        self.spent_seconds = 0.0

    def instrument(self, client) -> None:
        events = client.meta.events
        # before-parameter-build sees the call's own parameters (TableName); before-call, the serialized request.
        events.register("before-parameter-build.dynamodb", self._before_call)
        events.register("after-call.dynamodb", self._after_call)
        events.register("after-call-error.dynamodb", self._after_call_error)

    def trace_id(self) -> str | None:
        return trace_context(self._environment.get("_X_AMZN_TRACE_ID")).get("Root")

    def begin(self) -> None:
        """A new request: the time spent in DynamoDB counts from zero."""
        self.spent_seconds = 0.0

    # Each hook takes only what botocore passes it by keyword, as **kwargs, and never raises: botocore emits
    # after-call with http_response, parsed, model and context, but after-call-error (a connection error, a
    # read timeout) with exception and context only (botocore/client.py, BaseClient._make_api_call).
    def _before_call(self, **kwargs) -> None:
        try:
            kwargs["context"]["tracing"] = {
                "start": self._clock(),
                "operation": kwargs["model"].name,
                "table": kwargs["params"].get("TableName"),
            }
        except Exception as error:  # telemetry must never fail the request it describes
            self._warn_once(error)

    def _after_call(self, **kwargs) -> None:
        parsed = kwargs.get("parsed") or {}
        metadata = parsed.get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode", getattr(kwargs.get("http_response"), "status_code", None))
        error_code = parsed.get("Error", {}).get("Code", "")
        self._finish(
            kwargs.get("context"), status, metadata.get("RequestId"), metadata.get("RetryAttempts", 0), error_code
        )

    def _after_call_error(self, **kwargs) -> None:
        self._finish(kwargs.get("context"), None, None, None, type(kwargs.get("exception")).__name__)

    def _finish(self, context, status, request_id, retries, error_code) -> None:
        try:
            recorded = context.pop("tracing", None) if isinstance(context, dict) else None
            if recorded is None:
                return
            end = self._clock()
            self.spent_seconds += end - recorded["start"]
            header = trace_context(self._environment.get("_X_AMZN_TRACE_ID"))
            if header.get("Sampled") != "1" or "Root" not in header or "Parent" not in header:
                return
            document = subsegment(recorded, end, header, status, request_id, retries, error_code)
            self._send(HEADER + json.dumps(document, separators=(",", ":")).encode())
        except Exception as error:  # telemetry must never fail the request it describes
            self._warn_once(error)

    def _send(self, datagram: bytes) -> None:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        self._socket.sendto(datagram, daemon_address(self._environment.get("AWS_XRAY_DAEMON_ADDRESS")))

    def _warn_once(self, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("X-Ray subsegments are not sent: %s: %s", type(error).__name__, error)


class LogCorrelation(logging.Filter):
    """Puts the current request's trace id and API Gateway request id on every record it filters, so that each
    log line of the function can be tied to its trace (Lambda's JSON log format adds Lambda's own request id)."""

    def __init__(self):
        super().__init__()
        self.trace_id: str | None = None
        self.request_id: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = self.trace_id
        record.request_id = self.request_id
        return True


def subsegment(recorded, end, header, status, request_id, retries, error_code) -> dict:
    """The segment document of one DynamoDB call (X-Ray developer guide, "AWS X-Ray segment documents")."""
    throttled = status == 429 or error_code in THROTTLING_CODES
    fault = status is None or status >= 500
    document = {
        "name": "DynamoDB",
        "id": os.urandom(8).hex(),
        "trace_id": header["Root"],
        "parent_id": header["Parent"],
        "type": "subsegment",
        "namespace": "aws",
        "start_time": recorded["start"],
        "end_time": end,
        "aws": {
            "operation": recorded["operation"],
            "table_name": recorded["table"],
            "request_id": request_id,
            "retries": retries,
        },
        "error": status is not None and 400 <= status < 500,
        "throttle": throttled,
        "fault": fault,
    }
    if status is not None:
        document["http"] = {"response": {"status": status}}
    if error_code:
        document["cause"] = {"exceptions": [{"id": os.urandom(8).hex(), "type": error_code}]}
    return document
