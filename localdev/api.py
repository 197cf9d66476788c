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
"""

from __future__ import annotations

import base64
import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from jsonschema import Draft4Validator

from localdev.events import proxy_event
from localdev.sigv4 import LocalCredentials, Refused, verify
from localdev.template import ApiDefinition, FunctionSpec

CONTRACT_PATH = "/openapi.json"

WORKERS_PER_FUNCTION = 4

# API Gateway's own answers, by response type: status and message (messageString in the templates).
GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "INVALID_SIGNATURE": (403, "The request signature we calculated does not match the signature you provided."),
    "DEFAULT_5XX": (502, "Internal server error"),
}

_function = None


def _load_function(spec: FunctionSpec, environment: dict) -> None:
    """Runs once per worker process, like a Lambda cold start."""
    global _function
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the runner stops us
    os.environ.update(environment)
    sys.path.insert(0, str(spec.code_dir))
    module_name, function_name = spec.handler.rsplit(".", 1)
    _function = getattr(importlib.import_module(module_name), function_name)


def _invoke(event: dict) -> tuple[str, object]:
    try:
        return "ok", _function(event, None)
    except Exception as error:  # reported to the runner as a function error, as Lambda does
        return "error", f"{type(error).__name__}: {error}"


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of new connections beyond it is reset by the kernel.
    request_queue_size = 1024


class LocalApi:
    def __init__(
        self,
        api: ApiDefinition,
        dynamodb_endpoint: str,
        *,
        port: int = 3000,
        log=print,
        contract: dict | None = None,
        credentials: LocalCredentials | None = LocalCredentials(),
    ):
        """credentials=None accepts unsigned requests on every method (the runner's --no-auth)."""
        self.api = api
        self._log = log
        self._contract = contract
        self.credentials = credentials
        runtime_environment = {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        context = multiprocessing.get_context("spawn")
        self._pools = {
            function_id: context.Pool(
                WORKERS_PER_FUNCTION, _load_function, (spec, {**runtime_environment, **spec.environment})
            )
            for function_id, spec in api.functions.items()
        }
        self._server = _Server(("127.0.0.1", port), self._request_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.api.stage}/"

    def start(self) -> "LocalApi":
        for pool in self._pools.values():
            pool.apply(time.time)  # waits until every worker has imported the function
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for pool in self._pools.values():
            pool.terminate()
            pool.join()

    def handle(self, method: str, raw_path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        url = urlsplit(raw_path)
        if url.path == CONTRACT_PATH and method == "GET" and self._contract is not None:
            served = {**self._contract, "servers": [{"url": self.url.rstrip("/"), "description": "this local API"}]}
            return 200, {"Content-Type": "application/json"}, json.dumps(served, indent=2).encode()
        prefix = f"/{self.api.stage}"
        path = url.path[len(prefix):] if url.path == prefix or url.path.startswith(prefix + "/") else None
        resolved = self.api.resolve(method, path or "/") if path is not None else None
        if resolved is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN")
        route, parameters = resolved
        if route.authorization == "AWS_IAM" and self.credentials is not None:
            host = next((v for k, v in headers.items() if k.lower() == "host"), "127.0.0.1")
            try:
                verify(self.credentials, method, f"http://{host}{raw_path}", headers, body)
            except Refused as refusal:
                return self._gateway_error(refusal.response_type, refusal.message)
        if route.body_schema is not None and not _body_matches(route.body_schema, headers, body):
            return self._gateway_error("BAD_REQUEST_BODY")
        event = proxy_event(
            method, route.path, path, path_parameters=parameters, query_string=url.query, headers=headers, body=body
        )
        outcome, result = self._pools[route.function_id].apply(_invoke, (event,))
        if outcome == "error":
            self._log(f"  function error (Lambda counts it in the Errors metric): {result}")
            return self._gateway_error("DEFAULT_5XX")
        return _http_response(result)

    def _gateway_error(self, response_type: str, message: str | None = None) -> tuple[int, dict, bytes]:
        status, default_message = GATEWAY_ERRORS[response_type]
        message = message or default_message
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        template = self.api.gateway_responses.get(response_type) or self.api.gateway_responses.get(family)
        if template:
            body = template.replace("$context.error.responseType", response_type).replace(
                "$context.error.messageString", json.dumps(message)
            )
        else:
            body = json.dumps({"message": message})
        return status, {"Content-Type": "application/json"}, body.encode()

    def _request_handler(self):
        local_api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                started = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = local_api.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                elapsed = (time.perf_counter() - started) * 1000
                local_api._log(f"{self.command} {self.path} {status} {elapsed:.0f} ms")

            def __getattr__(self, name):
                # http.server looks up do_<VERB>; every verb, known or not, goes to the API like API Gateway's.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def send_error(self, code, message=None, explain=None):
                """A request http.server cannot parse: a JSON error in the API's shape, not an HTML page."""
                payload = json.dumps(
                    {"error": {"code": "BAD_REQUEST", "message": message or "malformed HTTP request"}}
                ).encode()
                # An unparsable request line leaves http.server at HTTP/0.9, which would drop the headers.
                self.request_version = "HTTP/1.1"
                self.send_response(code, message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler


def _body_matches(schema: dict, headers: dict, body: bytes) -> bool:
    """API Gateway validates a body against the model of its content type (application/json by default)."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "application/json")
    if not content_type.lower().startswith("application/json"):
        return True
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return False
    return Draft4Validator({k: v for k, v in schema.items() if k != "$schema"}).is_valid(document)


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
