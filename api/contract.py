"""The items API's OpenAPI 3.1 document (api/openapi.json), and what the stack derives from it.

The document is the source: the stack builds API Gateway's request models from its request-body schemas,
the local API serves it, schemathesis fuzzes against it, and tests prove that its operations are the
template's methods under their operationIds and that its error codes are the handler's. API Gateway models
are JSON Schema draft 4 and validate only what a model can say about the body's own fields (types, lengths,
patterns, ranges, required and forbidden fields); the rest of the document (attribute values, attribute
names, query parameters, responses) is the function's to enforce.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

DOCUMENT = Path(__file__).parent / "openapi.json"
# Keywords an API Gateway (draft 4) model takes from a field's schema; the rest (OpenAPI's, and JSON Schema's
# newer ones such as propertyNames) are dropped, and the function enforces them.
MODEL_FIELD_KEYWORDS = ("type", "minLength", "maxLength", "pattern", "minimum", "maximum", "multipleOf", "not")
# Every limit lives with the function, which must read them from its own zip.
_LIMITS_SOURCE = Path(__file__).resolve().parent.parent / "lambda" / "limits.py"


def _load_limits():
    spec = importlib.util.spec_from_file_location("items_function_limits", _LIMITS_SOURCE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the function's limits from {_LIMITS_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


limits = _load_limits()


@cache
def load() -> dict:
    return json.loads(DOCUMENT.read_text())


def resolve(schema: dict, document: dict | None = None) -> dict:
    """A schema with its $ref (and single-element allOf wrapping a $ref) followed, merged with local keywords."""
    document = document or load()
    if "$ref" in schema:
        target = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, document)
    if len(schema.get("allOf", [])) == 1:
        inner = resolve(schema["allOf"][0], document)
        return {**inner, **{k: v for k, v in schema.items() if k != "allOf"}}
    return schema


def request_body_schema_name(path: str, method: str) -> str | None:
    """The components/schemas name of an operation's JSON request body, or None if it takes no body."""
    operation = load()["paths"][path][method.lower()]
    if "requestBody" not in operation:
        return None
    return operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def request_body_schema(path: str, method: str) -> dict:
    operation = load()["paths"][path][method.lower()]
    return resolve(operation["requestBody"]["content"]["application/json"]["schema"])


def request_model(path: str, method: str) -> dict:
    """The draft-4 schema API Gateway validates a method's body against, projected from the document."""
    schema = request_body_schema(path, method)
    model = {"type": schema["type"]}
    if schema.get("required"):
        model["required"] = list(schema["required"])
    if "not" in schema:
        model["not"] = dict(schema["not"])
    model["properties"] = {name: _draft4_field(resolve(field)) for name, field in schema.get("properties", {}).items()}
    return model


def _draft4_field(schema: dict) -> dict:
    """A field's schema in draft 4. An integer in JSON Schema 2020-12 is any number with no fractional part
    (3.0 is the integer 3); draft 4's integer is a literal without one, so it is stated as a whole number."""
    field = {k: v for k, v in schema.items() if k in MODEL_FIELD_KEYWORDS}
    if field.get("type") == "integer":
        field.update(type="number", multipleOf=1)
    return field


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations() -> set[tuple[str, str]]:
    """(path, METHOD) of every operation the document defines."""
    return {
        (path, method.upper()) for path, item in load()["paths"].items() for method in item if method in HTTP_METHODS
    }


def operation_ids() -> dict[tuple[str, str], str]:
    """(path, METHOD) of every operation, each to its operationId: the stack names each method by it and writes
    the table into the function's OPERATIONS, which the function routes by."""
    return {(path, method): load()["paths"][path][method.lower()]["operationId"] for path, method in operations()}


def stage() -> str:
    """The API's stage, named once: the default of the document's `stage` server variable."""
    [server] = load()["servers"]
    return server["variables"]["stage"]["default"]
