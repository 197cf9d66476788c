"""API Gateway REST proxy events (payload v1), built the way API Gateway builds them."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs


def proxy_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: dict | None = None,
    query_string: str = "",
    headers: dict | list[tuple[str, str]] | None = None,
    body: bytes | str | None = None,
    stage: str,
) -> dict:
    """The event API Gateway sends to a Lambda proxy integration for one request.

    `headers` may repeat a name (as header lines do): `headers` holds its last value, `multiValueHeaders` all.
    """
    multi_query = parse_qs(query_string, keep_blank_values=True) if query_string else {}
    header_lines = list(headers.items() if isinstance(headers, dict) else headers or [])
    header_map = dict(header_lines)
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_lines:
        multi_headers.setdefault(name, []).append(value)
    if isinstance(body, bytes):
        # The stack sets no binary media types, so API Gateway treats every payload as UTF-8 text ("Binary
        # media types for REST APIs in API Gateway"); bytes that are not UTF-8 are replaced, never base64-encoded.
        body = body.decode("utf-8", errors="replace")
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": header_map or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        # As sent, still percent-encoded: REST APIs do not decode path parameters (serverless/serverless#5037;
        # hotsock/voker#8 captured it from live REST APIs and function URLs; HTTP APIs decode them).
        "pathParameters": dict(path_parameters or {}) or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": header_map.get("User-Agent")},
        },
        "body": body if body not in (None, "") else None,
        "isBase64Encoded": False,
    }
