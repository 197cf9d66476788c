"""The synthesized REST API served on 127.0.0.1: HTTP in, API Gateway proxy event to the function, HTTP out.

The function runs in its own worker processes (as in Lambda: its own environment, module-level code run
once per worker), loaded from the code asset in the cloud assembly. What API Gateway would refuse
before the function (unknown route or method, body failing the request model) is refused here the same
way, from the template's definitions, with the template's gateway-response bodies: any method or path the
template does not define, whatever the verb, gets API Gateway's 403 MISSING_AUTHENTICATION_TOKEN, and even
a request the HTTP server cannot parse gets a JSON error, never an HTML page. The API's OpenAPI document is
served at /openapi.json with this server in `servers`.
Methods with AWS_IAM authorization require a SigV4 signature made with the local credentials (see
localdev/sigv4.py), unless the runner was started with --no-auth.

Every request gets exactly one response, and a request refused for its form is refused before anything
runs: its framing is checked first (Content-Length a single decimal number, or a well-formed chunked body,
never both), then the limits API Gateway and Lambda apply (lambda/limits.py): a URL or method ARN too long
is 414, a body over 10 MB or an event over Lambda's 6 MB request payload is 413 REQUEST_TOO_LARGE. HEAD
responses carry headers only.
"""

from __future__ import annotations

import base64
import importlib
import json
import multiprocessing
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from jsonschema import Draft4Validator

from api.contract import limits
from localdev.events import proxy_event
from localdev.sigv4 import LOCAL_CREDENTIALS, LocalCredentials, Refused, verify
from localdev.template import ApiDefinition, FunctionSpec

CONTRACT_PATH = "/openapi.json"

WORKERS_PER_FUNCTION = 4

# API Gateway's own answers, by response type: status and message (messageString in the templates).
GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "INVALID_SIGNATURE": (403, "The request signature we calculated does not match the signature you provided."),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    # Not a gateway response type: API Gateway's own 414, whose body AWS does not document (api/openapi.json).
    "URI_TOO_LONG": (limits.URI_TOO_LONG_STATUS, "Request URI too long"),
    "DEFAULT_5XX": (502, "Internal server error"),
}
# What the method ARN's account and API id add to its length (12 digits; API Gateway's 10-character ids).
_ARN_PLACEHOLDER = "arn:aws:execute-api:{region}:123456789012:abcdefghij/{stage}/{method}{path}"
# A stalled client cannot hold a worker thread longer than this.
CLIENT_TIMEOUT_SECONDS = 30
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,8})(;[^\r\n]*)?\r\n")
_MAX_LINE = 8192


class MalformedRequest(Exception):
    """A request refused for its form, before it is routed: the status and what is wrong."""

    def __init__(self, status: int, message: str, response_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.response_type = response_type


_function: Callable[[dict, object], object] | None = None


def function_workers(spec: FunctionSpec, runtime_environment: dict, workers: int):
    """Worker processes that each load the function once (its cold start); run it with `pool.apply(invoke, ...)`."""
    context = multiprocessing.get_context("spawn")
    return context.Pool(workers, _load_function, (spec, {**runtime_environment, **spec.environment}))


# Longer than any cold start seen here; a worker that never answers is a handler that fails to import.
WORKER_START_SECONDS = 60


def wait_for_workers(pool, function_id: str) -> None:
    """Until a worker has imported the function (its cold start); a RuntimeError naming it if none does."""
    try:
        pool.apply_async(time.time).get(timeout=WORKER_START_SECONDS)
    except multiprocessing.TimeoutError:
        raise RuntimeError(
            f"{function_id}: no worker started in {WORKER_START_SECONDS} s; does its handler import?"
        ) from None


def _load_function(spec: FunctionSpec, environment: dict) -> None:
    """Runs once per worker process, like a Lambda cold start."""
    global _function
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the runner stops us
    os.environ.update(environment)
    sys.path.insert(0, str(spec.code_dir))
    module_name, function_name = spec.handler.rsplit(".", 1)
    _function = getattr(importlib.import_module(module_name), function_name)


def invoke(event: dict, trace_header: str) -> tuple[str, object]:
    assert _function is not None, "the worker loads the function first (_load_function)"
    os.environ["_X_AMZN_TRACE_ID"] = trace_header  # Lambda sets it for each invocation
    try:
        return "ok", _function(event, None)
    except Exception as error:  # reported to the runner as a function error, as Lambda does
        return "error", f"{type(error).__name__}: {error}"


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of new connections beyond it is reset by the kernel.
    request_queue_size = 1024


def trace_header() -> str:
    """A sampled X-Ray trace header for one invocation, as Lambda gives the function (`_X_AMZN_TRACE_ID`)."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1"


class XRayDaemon:
    """A UDP listener on 127.0.0.1 in the X-Ray daemon's place: it logs each subsegment the function sends."""

    def __init__(self, log):
        self._log = log
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._serve, name="local-xray", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                _, _, body = self._socket.recv(65536).partition(b"\n")
                document = json.loads(body)
                flags = [flag for flag in ("error", "throttle", "fault") if document.get(flag)]
                milliseconds = (document["end_time"] - document["start_time"]) * 1000
                self._log(
                    f"  X-Ray {document['name']} {document['aws']['operation']} {milliseconds:.1f} ms"
                    + (f" ({', '.join(flags)})" if flags else "")
                    + f" trace {document['trace_id']}"
                )
            except OSError:
                return
            except (ValueError, KeyError, TypeError):
                continue

    def close(self) -> None:
        self._socket.close()


class LocalApi:
    def __init__(
        self,
        api: ApiDefinition,
        dynamodb_endpoint: str,
        *,
        port: int = 3000,
        listening: socket.socket | None = None,
        log=print,
        contract: dict | None = None,
        credentials: LocalCredentials | None = LOCAL_CREDENTIALS,
    ):
        """credentials=None accepts unsigned requests on every method (the runner's --no-auth). `listening`, a
        socket already bound and listening, is served instead of binding `port`."""
        self.api = api
        self._log = log
        self._contract = contract
        self.credentials = credentials
        self._xray = XRayDaemon(log)
        self.runtime_environment = {
            "AWS_XRAY_DAEMON_ADDRESS": self._xray.address,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        self._pools = {
            function_id: function_workers(spec, self.runtime_environment, WORKERS_PER_FUNCTION)
            for function_id, spec in api.functions.items()
        }
        if listening is None:
            self._server = _Server(("127.0.0.1", port), self._request_handler())
        else:
            self._server = _Server(listening.getsockname(), self._request_handler(), bind_and_activate=False)
            self._server.socket.close()
            self._server.socket = listening
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.api.stage}/"

    def start(self) -> LocalApi:
        for function_id, pool in self._pools.items():
            wait_for_workers(pool, function_id)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        for pool in self._pools.values():
            pool.terminate()
            pool.join()
        self._xray.close()

    def handle(
        self, method: str, target: str, headers: dict | list[tuple[str, str]], body: bytes
    ) -> tuple[int, dict, bytes]:
        """One request: `target` as sent (path and query), every header line (a dict if none repeats)."""
        header_lines = list(headers.items() if isinstance(headers, dict) else headers)
        url = urlsplit(target)
        if url.path == CONTRACT_PATH and method == "GET" and self._contract is not None:
            served = {**self._contract, "servers": [{"url": self.url.rstrip("/"), "description": "this local API"}]}
            return 200, {"Content-Type": "application/json"}, json.dumps(served, indent=2).encode()
        if len(target) > limits.API_GATEWAY_REGIONAL_URL_CHARS:
            return self._gateway_error("URI_TOO_LONG")
        prefix = f"/{self.api.stage}"
        if url.path != prefix and not url.path.startswith(prefix + "/"):
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN")
        path = url.path[len(prefix) :]
        resolved = self.api.resolve(method, path or "/")
        if resolved is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN")
        route, parameters = resolved
        if route.authorization == "AWS_IAM":
            region = self.credentials.region if self.credentials else "us-east-1"
            arn = _ARN_PLACEHOLDER.format(region=region, stage=self.api.stage, method=method, path=path)
            if len(arn.encode("latin-1", "replace")) > limits.API_GATEWAY_METHOD_ARN_BYTES:
                return self._gateway_error("URI_TOO_LONG")
        if route.authorization == "AWS_IAM" and self.credentials is not None:
            try:
                verify(self.credentials, method, target, header_lines, body)
            except Refused as refusal:
                return self._gateway_error(refusal.response_type, refusal.message)
        if route.body_schema is not None:
            problems = _body_problems(route.body_schema, header_lines, body)
            if problems:
                return self._gateway_error("BAD_REQUEST_BODY", validation_errors=problems)
        event = proxy_event(
            method,
            route.path,
            path,
            path_parameters=parameters,
            query_string=url.query,
            headers=header_lines,
            body=body,
            stage=self.api.stage,
        )
        if len(json.dumps(event)) > limits.LAMBDA_SYNC_PAYLOAD_BYTES:
            return self._gateway_error("REQUEST_TOO_LARGE")
        outcome, result = self._pools[route.function_id].apply(invoke, (event, trace_header()))
        if outcome == "error":
            self._log(f"  function error (Lambda counts it in the Errors metric): {result}")
            return self._gateway_error("DEFAULT_5XX")
        if not isinstance(result, dict):
            self._log(f"  function error: it returned {type(result).__name__}, not a proxy response object")
            return self._gateway_error("DEFAULT_5XX")
        if len(json.dumps(result)) > limits.LAMBDA_SYNC_PAYLOAD_BYTES:
            self._log("  function error: its response exceeds Lambda's response payload limit, which Lambda refuses")
            return self._gateway_error("DEFAULT_5XX")
        return _http_response(result)

    def malformed(self, problem: MalformedRequest) -> tuple[int, dict, bytes]:
        if problem.response_type:
            return self._gateway_error(problem.response_type, problem.message)
        body = {"error": {"code": "BAD_REQUEST", "message": problem.message}}
        return problem.status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _gateway_error(
        self, response_type: str, message: str | None = None, validation_errors: list[str] | None = None
    ) -> tuple[int, dict, bytes]:
        status, default_message = GATEWAY_ERRORS[response_type]
        message = message or default_message
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        template = self.api.gateway_responses.get(response_type) or self.api.gateway_responses.get(family)
        if template:
            # messageString comes quoted; validationErrorString is substituted inside the template's own quotes,
            # escaped as a JSON string's content (what only a deploy can confirm of API Gateway's substitution).
            detail = f"[{', '.join(validation_errors or [])}]"
            body = (
                template.replace("$context.error.responseType", response_type)
                .replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.validationErrorString", json.dumps(detail)[1:-1])
            )
        else:
            body = json.dumps({"message": message})
        return status, {"Content-Type": "application/json"}, body.encode()

    def _request_handler(self):
        local_api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = CLIENT_TIMEOUT_SECONDS

            def _serve(self):
                started = time.perf_counter()
                if self.request_version == "HTTP/0.9":  # a two-word request line: answered as HTTP/1.1, refused
                    self.send_error(400, "the request line must be: METHOD target HTTP/1.1")
                    return
                try:
                    body = _read_body(self.headers, self.rfile)
                except MalformedRequest as problem:
                    self.close_connection = True  # what follows on the connection cannot be framed
                    self._send(*local_api.malformed(problem))
                    return
                try:
                    status, headers, payload = local_api.handle(self.command, self.path, self.headers.items(), body)
                except Exception:  # a defect of this server, not of the request: still one answer, and logged
                    local_api._log(f"  local API error:\n{traceback.format_exc()}")
                    status, headers, payload = (
                        500,
                        {"Content-Type": "application/json"},
                        json.dumps(
                            {"error": {"code": "LOCAL_API_ERROR", "message": "the local API failed; see its log"}}
                        ).encode(),
                    )
                self._send(status, headers, payload)
                elapsed = (time.perf_counter() - started) * 1000
                local_api._log(f"{self.command} {self.path} {status} {elapsed:.0f} ms")

            def _send(self, status: int, headers: dict, payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":  # a HEAD response has the headers of the GET, never its body
                    self.wfile.write(payload)

            def handle_expect_100(self):
                """100 Continue only for a body that will be read; an over-limit one is refused unread."""
                try:
                    _content_length(self.headers)
                except MalformedRequest:
                    return True
                return super().handle_expect_100()

            def __getattr__(self, name):
                # http.server looks up do_<VERB>; every verb, known or not, goes to the API like API Gateway's.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def send_error(self, code, message=None, explain=None):
                """A request http.server cannot parse: a JSON error in the API's shape, not an HTML page, and a 4xx:
                an unsupported HTTP version (505 in http.server) is the client's to fix."""
                code = 400 if code >= 500 else code
                payload = json.dumps(
                    {"error": {"code": "BAD_REQUEST", "message": message or "malformed HTTP request"}}
                ).encode()
                # An unparsable request line leaves http.server at HTTP/0.9, which would drop the headers.
                self.request_version = "HTTP/1.1"
                self.close_connection = True
                self.send_response(code, message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                # http.server may refuse the request line before it sets self.command: read the verb sent.
                request_line = vars(self).get("raw_requestline") or b""
                sent_verb = self.command or b"".join(request_line.split()[:1]).decode("latin-1")
                if sent_verb != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


# API Gateway's answer to a body over its payload limit (koki-develop/lgtm-generator#10 for the message).
def _too_large() -> MalformedRequest:
    return MalformedRequest(
        413, f"HTTP content length exceeded {limits.API_GATEWAY_PAYLOAD_BYTES} bytes.", "REQUEST_TOO_LARGE"
    )


def _content_length(headers) -> int | None:
    """The body's length from Content-Length, None for a chunked body; MalformedRequest for anything else."""
    lengths = headers.get_all("Content-Length") or []
    encodings = headers.get_all("Transfer-Encoding") or []
    if lengths and encodings:  # RFC 9112, section 6.1: a request smuggling vector; refused
        raise MalformedRequest(400, "a request may have Content-Length or Transfer-Encoding, not both")
    if encodings:
        if [e.strip().lower() for e in encodings] != ["chunked"]:
            raise MalformedRequest(400, "Transfer-Encoding must be chunked")
        return None
    if len({value.strip() for value in lengths}) > 1:
        raise MalformedRequest(400, "Content-Length is given twice with different values")
    if not lengths:
        return 0
    if not re.fullmatch(r"[0-9]{1,20}", lengths[0].strip()):
        raise MalformedRequest(400, "Content-Length must be a non-negative decimal number")
    length = int(lengths[0])
    if length > limits.API_GATEWAY_PAYLOAD_BYTES:
        raise _too_large()
    return length


def _read_body(headers, stream) -> bytes:
    length = _content_length(headers)
    try:
        body = _read_chunked(stream) if length is None else stream.read(length)
    except TimeoutError:
        raise MalformedRequest(400, f"the body did not arrive within {CLIENT_TIMEOUT_SECONDS} s") from None
    if length is not None and len(body) != length:
        raise MalformedRequest(400, f"the body ended after {len(body)} of {length} bytes")
    return body


def _read_chunked(stream) -> bytes:
    """A chunked body (RFC 9112, section 7.1), at most API Gateway's payload limit; trailers are read and dropped."""
    body = bytearray()
    while True:
        line = stream.readline(_MAX_LINE)
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if not match:
            raise MalformedRequest(400, "malformed chunk size line in a chunked body")
        size = int(match.group(1), 16)
        if len(body) + size > limits.API_GATEWAY_PAYLOAD_BYTES:
            raise _too_large()
        if size == 0:
            break
        chunk = stream.read(size + 2)
        if len(chunk) != size + 2 or not chunk.endswith(b"\r\n"):
            raise MalformedRequest(400, "a chunk of a chunked body is shorter than its size line says")
        body += chunk[:-2]
    while (trailer := stream.readline(_MAX_LINE)) not in (b"\r\n", b"\n"):
        if not trailer.endswith(b"\n"):
            raise MalformedRequest(400, "a chunked body ended without its final empty line")
    return bytes(body)


def _body_problems(schema: dict, headers: list[tuple[str, str]], body: bytes) -> list[str]:
    """What API Gateway's validator reports of a body and the model of its content type (application/json by
    default): nothing if it matches. The payload is UTF-8 text (no binary media types are set)."""
    content_type = next((v for k, v in reversed(headers) if k.lower() == "content-type"), "application/json")
    if not content_type.lower().startswith("application/json"):
        return []
    try:
        document = json.loads(body.decode("utf-8", errors="replace") or "{}")
    except (ValueError, RecursionError):
        return ["Invalid JSON in request body"]
    validator = Draft4Validator({k: v for k, v in schema.items() if k != "$schema"})
    return [_validator_message(error) for error in sorted(validator.iter_errors(document), key=lambda e: e.path)]


def _validator_message(error) -> str:
    """A jsonschema error in the words of the json-schema-validator library (java-json-tools) whose messages API
    Gateway's validationErrorString carries, e.g. `object has missing required properties (["version"])`."""
    value, rule = error.instance, error.validator_value
    text = json.dumps(value, ensure_ascii=False)
    messages = {
        "required": lambda: (
            "object has missing required properties ("
            + json.dumps(sorted(set(rule) - set(value)), separators=(",", ":"))
            + ")"
        ),
        "type": lambda: (
            f"instance type ({_json_type(value)}) does not match any allowed primitive type "
            f"(allowed: {json.dumps([rule] if isinstance(rule, str) else rule, separators=(',', ':'))})"
        ),
        "pattern": lambda: f'ECMA 262 regex "{rule}" does not match input string {text}',
        "minLength": lambda: f"string {text} is too short (length: {len(value)}, required minimum: {rule})",
        "maxLength": lambda: f"string {text} is too long (length: {len(value)}, maximum allowed: {rule})",
        "minimum": lambda: f"numeric instance is lower than the required minimum (minimum: {rule}, found: {text})",
        "maximum": lambda: f"numeric instance is greater than the required maximum (maximum: {rule}, found: {text})",
        "multipleOf": lambda: f"remainder of division is not zero ({text} / {rule})",
        "not": lambda: "instance matched a schema which it should not have",
    }
    return messages.get(error.validator, lambda: error.message)()


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {dict: "object", list: "array", str: "string", float: "number", type(None): "null"}[type(value)]


def _http_response(result: dict) -> tuple[int, dict, bytes]:
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        payload = base64.b64decode(body)
    else:
        payload = body.encode("utf-8")
    return int(result["statusCode"]), headers, payload
