"""Entry point for API Gateway's REST Lambda proxy integration (payload v1): route, call, map errors to HTTP.

The composition root: one ItemsFunction per execution environment, built from the environment (the table's
name) and the client the function ships; tests and the benchmark build their own the same way.

Client mistakes become 4xx responses with a JSON body {"error": {"code", "message"}}. Any other exception is
re-raised so that the invocation counts in the function's Errors metric (the stack's alarm watches its rate);
API Gateway then answers 502 with the stack's generic 5xx body, never a stack trace.
"""

import json
import logging
import os
import time
import uuid

from botocore.config import Config

import json_text
import limits
import validation
from dynamodb_client import create_client
from errors import ApiError, InvalidRequest, OperationNotFound
from repository import ItemRepository
from tracing import DynamoDBTracer, LogCorrelation

logger = logging.getLogger("items")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
# Every line the function logs carries the request's trace id and request id (a logger's filters apply to
# its own records only, so each of the function's loggers gets the one filter).
correlation = LogCorrelation()
for name in ("items", "items.tracing"):
    logging.getLogger(name).addFilter(correlation)

# Standard retry mode backs off (with jitter) on throttling and transient faults. Worst case, 3 attempts of
# (1 s connect + 2 s read) plus backoff stay inside the function's 15 s timeout, so a failing dependency
# ends as a raised error the Errors metric counts, not as a timeout halfway through a retry.
MAX_ATTEMPTS = 3
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=1, read_timeout=2
)
NO_PARAMETERS = frozenset()
LIST_PARAMETERS = frozenset({"limit", "next"})
DELETE_PARAMETERS = frozenset({"version"})


def parse_routes(operations: str) -> dict[tuple[str, str], str]:
    """OPERATIONS ({"GET /items": "listItems", ...}) as {(resource, method): operationId}."""
    routes = {}
    for method_and_resource, operation_id in json.loads(operations).items():
        method, _, resource = method_and_resource.partition(" ")
        if not method or not resource.startswith("/"):
            raise ValueError(f"OPERATIONS key {method_and_resource!r} is not 'METHOD /resource'")
        routes[resource, method] = operation_id
    return routes


class ItemsFunction:
    """The function's operations on one items repository. The entry point builds one per execution
    environment from its environment and the shipped client; tests and the benchmark build their own."""

    def __init__(self, items: ItemRepository, routes: dict[tuple[str, str], str], tracer: DynamoDBTracer | None = None):
        self.items = items
        # A function built without one (a test's) gets a tracer on no client: it records nothing.
        self.tracer = tracer or DynamoDBTracer({})
        # The contract's operationIds (api/openapi.json), each to the method that serves it.
        self.operations = {
            "listItems": self.list_items,
            "createItem": self.create_item,
            "getItem": self.get_item,
            "replaceItem": self.replace_item,
            "deleteItem": self.delete_item,
        }
        if set(routes.values()) != set(self.operations):
            raise ValueError(
                f"OPERATIONS must route to exactly the operations this function serves "
                f"({', '.join(sorted(self.operations))}), not {', '.join(sorted(set(routes.values())))}"
            )
        # (resource, HTTP method) of each of the API's methods, to its operationId: the stack writes this table
        # from the document into the OPERATIONS variable, so the function keeps no copy of the API's routes.
        self.routes = dict(routes)

    @classmethod
    def from_environment(cls, environment, client) -> "ItemsFunction":
        """The function on the table its environment names, every DynamoDB call it makes traced."""
        tracer = DynamoDBTracer(environment)
        tracer.instrument(client)
        return cls(ItemRepository(client, environment["TABLE_NAME"]), parse_routes(environment["OPERATIONS"]), tracer)

    def handle(self, event: dict, context) -> dict:
        started = time.perf_counter()
        self.tracer.begin()
        correlation.trace_id = self.tracer.trace_id()
        correlation.request_id = (event.get("requestContext") or {}).get("requestId")
        try:
            status, body, headers = self._dispatch(event)
        except ApiError as error:
            status, body = error.status, {"error": {"code": error.code, "message": error.message}}
            headers = error.headers
        except Exception as error:
            self._log_request(event, started, None, type(error).__name__)  # the real cause, then raised for the alarm
            raise
        self._log_request(event, started, status, None)
        return _response(status, body, headers)

    def _log_request(self, event: dict, started: float, status: int | None, failure: str | None) -> None:
        logger.info(
            "request",
            extra={
                "method": event.get("httpMethod"),
                "resource": event.get("resource"),
                "status": status,
                "failure": failure,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "dynamodb_ms": round(self.tracer.spent_seconds * 1000, 1),
            },
        )

    def _dispatch(self, event: dict) -> tuple[int, dict | None, dict]:
        resource, method = event.get("resource"), event.get("httpMethod")
        name = self.routes.get((resource, method)) if isinstance(resource, str) and isinstance(method, str) else None
        if name is None:
            raise OperationNotFound("no operation of this API has that resource and method")
        return self.operations[name](event)

    def list_items(self, event: dict) -> tuple[int, dict | None, dict]:
        query = validation.query_parameters(event, LIST_PARAMETERS)
        limit = validation.parse_limit(query)
        items, last_id = self.items.list_page(limit, validation.parse_next(query))
        return 200, _page_within_payload_limit(items, last_id), {}

    def create_item(self, event: dict) -> tuple[int, dict | None, dict]:
        validation.query_parameters(event, NO_PARAMETERS)
        body = _body(event)
        if "version" in body:
            raise InvalidRequest("version is set by the server; leave it out when creating an item")
        body["id"] = validation.validate_id(body["id"]) if "id" in body else str(uuid.uuid4())
        item = self.items.create(body)
        # requestContext.path includes the stage (/prod/items), so the Location works as the client sees the API.
        collection = (event.get("requestContext") or {}).get("path") or event.get("path") or "/items"
        return 201, item, {"Location": f"{collection.rstrip('/')}/{item['id']}"}

    def get_item(self, event: dict) -> tuple[int, dict | None, dict]:
        item_id = _path_id(event)
        validation.query_parameters(event, NO_PARAMETERS)
        return 200, self.items.get(item_id), {}

    def replace_item(self, event: dict) -> tuple[int, dict | None, dict]:
        item_id = _path_id(event)
        validation.query_parameters(event, NO_PARAMETERS)
        body = _body(event)
        if body.get("id", item_id) != item_id:
            raise InvalidRequest("id in the body must match the id in the path")
        expected_version = validation.validate_version(body.pop("version", None))
        body["id"] = item_id
        return 200, self.items.replace(body, expected_version), {}

    def delete_item(self, event: dict) -> tuple[int, dict | None, dict]:
        """With ?version=N only the version the client read is deleted (409 otherwise); without it, any version."""
        item_id = _path_id(event)
        query = validation.query_parameters(event, DELETE_PARAMETERS)
        self.items.delete(item_id, validation.parse_version(query.get("version")))
        return 204, None, {}


_function = ItemsFunction.from_environment(os.environ, create_client(CLIENT_CONFIG))


def handler(event: dict, context) -> dict:
    """Lambda's entry point: the execution environment's one ItemsFunction."""
    return _function.handle(event, context)


def _path_id(event: dict) -> str:
    return validation.path_id((event.get("pathParameters") or {}).get("id"))


def _body(event: dict) -> dict:
    return validation.parse_body(event.get("body"), bool(event.get("isBase64Encoded")))


def _page(items: list[dict], last_id: str | None) -> dict:
    page: dict[str, object] = {"items": items}
    if last_id is not None:
        page["next"] = last_id
    return page


def _page_within_payload_limit(items: list[dict], last_id: str | None) -> dict:
    """The page, or its longest prefix whose response Lambda can return (with `next` after the last item kept).

    DynamoDB bounds a Scan page at 1 MB stored, but escaping grows it: a stored control character is 7 bytes
    in the runtime's response envelope, so a page near 1 MB can exceed Lambda's 6 MB response payload, which
    API Gateway would answer with 502 for every reader of that page. Escaping is per character, so each item
    adds exactly its own escaped length (tests/test_handler_limits.py checks the prediction against the real size).
    """
    page = _page(items, last_id)
    if _payload_bytes(_response(200, page, {})) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES:
        return page
    longest_token_page = _page([], "x" * limits.ID_MAX_LENGTH)
    budget = limits.LAMBDA_SYNC_PAYLOAD_BYTES - _payload_bytes(_response(200, longest_token_page, {}))
    kept = 0
    for index, item in enumerate(items):
        budget -= _escaped_bytes(item) + (len(json_text.ITEM_SEPARATOR) if index else 0)
        if budget < 0:
            break
        kept += 1
    if kept == 0:
        # Never an empty page with a `next`, which would skip every item of this Scan page for every reader: one
        # item always fits (tests/test_handler_limits.py bounds the largest), so this is a defect, raised.
        raise RuntimeError(f"item {items[0]['id']} alone exceeds Lambda's response payload")
    return _page(items[:kept], items[kept - 1]["id"])


def _escaped_bytes(item: dict) -> int:
    """What one item adds to the response envelope: its JSON text, escaped again as part of the body string."""
    return len(json.dumps(json_text.dumps(item))) - len('""')


def _payload_bytes(response: dict) -> int:
    """The response as Lambda's Python runtime serializes it (simplejson, ASCII escapes; the upper bound of
    its output: aws-lambda-python-runtime-interface-client, awslambdaric/lambda_runtime_marshaller.py)."""
    return len(json.dumps(response))


def _response(status: int, body: dict | None, headers: dict) -> dict:
    response = {"statusCode": status, "headers": {**headers}, "body": ""}
    if body is not None:
        response["headers"]["Content-Type"] = "application/json"
        response["body"] = json_text.dumps(body)
    return response
