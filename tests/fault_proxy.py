"""A DynamoDB endpoint on 127.0.0.1 that throttles the first N requests, then forwards to a real one."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

THROTTLED = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Rate of requests exceeds the allowed throughput.",
    }
).encode()


class ThrottlingProxy:
    def __init__(self, upstream: str, throttle_first: int):
        self.upstream = upstream
        self.throttle_first = throttle_first
        self.requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.requests += 1
                    throttle = proxy.requests <= proxy.throttle_first
                if throttle:
                    self._reply(400, THROTTLED, {"x-amzn-ErrorType": "ThrottlingException"})
                    return
                forwarded = urllib.request.Request(proxy.upstream, data=body, headers=dict(self.headers), method="POST")
                with urllib.request.urlopen(forwarded) as upstream_response:
                    self._reply(upstream_response.status, upstream_response.read(), {})

            def _reply(self, status, payload, headers):
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "ThrottlingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
