"""The parts of the document that follow from lambda/limits.py, generated so that the two cannot drift.

`python -m api.schemas` rewrites them in api/openapi.json: the schemas Id, Version, PageSize, Number and ItemPage,
and components/x-platform-limits. Everything else in the document is written by hand. tests/test_contract.py
shows that regenerating reproduces the committed document, so a limit changed in lambda/limits.py without
regenerating fails the gate.
"""

from __future__ import annotations

import json
import sys

from api.contract import DOCUMENT, limits

GENERATED_SCHEMAS = ("Id", "Version", "PageSize", "Number", "ItemPage")


def generate(document: dict) -> dict:
    """The document with every generated part written from lambda/limits.py; the rest is kept as it is."""
    schemas = {**document["components"]["schemas"], **{name: _SCHEMAS[name]() for name in GENERATED_SCHEMAS}}
    components = {**document["components"], "schemas": schemas, "x-platform-limits": platform_limits()}
    return {**document, "components": components}


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def id_schema() -> dict:
    return {
        "type": "string",
        "pattern": f"^{limits.ID_PATTERN}$",
        "minLength": 1,
        "maxLength": limits.ID_MAX_LENGTH,
        "not": {"enum": list(limits.DOT_SEGMENTS)},
        "description": (
            f"{limits.ID_DESCRIPTION} (dot-segments: a client resolving the Location .../items/.. would land "
            "elsewhere, RFC 3986 section 5.2.4)"
        ),
    }


def version_schema() -> dict:
    return {
        "type": "integer",
        "minimum": 1,
        "maximum": limits.VERSION_MAX,
        "description": (
            "Server-managed: 1 on an id's first create, +1 on every write, and never repeated for an id: a "
            "re-created item continues after the version it was deleted at; at most "
            f"{limits.VERSION_MAX}, the largest integer JavaScript clients read exactly"
        ),
    }


def page_size_schema() -> dict:
    return {"type": "integer", "minimum": 1, "maximum": limits.PAGE_SIZE_MAX, "default": limits.PAGE_SIZE_DEFAULT}


def item_page_schema() -> dict:
    return {
        "type": "object",
        "required": ["items"],
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Item"},
                "maxItems": limits.PAGE_SIZE_MAX,
            },
            "next": {
                "$ref": "#/components/schemas/Id",
                "description": (
                    "The id of the last item the page read: pass it as ?next= for the following page. Present "
                    "whenever more items may follow: a page reads at most `limit` items, deleted ones included, "
                    "so it may hold fewer or none, and it holds fewer when the next one would take the response "
                    f"past Lambda's {limits.LAMBDA_SYNC_PAYLOAD_BYTES // 2**20} MB payload limit"
                ),
            },
        },
    }


def number_schema() -> dict:
    """What DynamoDB stores exactly, as JSON Schema: zero, integers by power of ten, and fractions in range.

    An integer of at most D significant digits (DYNAMODB_NUMBER_DIGITS) below 10^(E+1) is m x 10^k with
    |m| < 10^D; one branch per k from 0 to E+1-D covers them all (a larger k folds into the last branch), since
    JSON Schema has no "significant digits" keyword. Fractions are doubles (what JSON clients hold); the range
    bounds their magnitude.
    """
    digits = limits.DYNAMODB_NUMBER_DIGITS
    ceiling = 10 ** (limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1)
    floor = float(f"1e{limits.DYNAMODB_NUMBER_MIN_EXPONENT}")
    largest_mantissa = 10**digits - 1
    integers = [
        {
            "type": "integer",
            "minimum": -largest_mantissa * 10**power,
            "maximum": largest_mantissa * 10**power,
            **({"multipleOf": 10**power} if power else {}),
        }
        for power in range(limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1 - digits + 1)
    ]
    fraction = {"not": {"type": "integer"}}
    return {
        "description": (
            f"What DynamoDB stores exactly: zero; an integer of at most {digits} significant digits below "
            f"1E+{limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1} (one branch per power of ten: m x 10^k with "
            f"|m| < 10^{digits}); or a fraction a double holds exactly, with magnitude from "
            f"1E{limits.DYNAMODB_NUMBER_MIN_EXPONENT} to below 1E+{limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1}"
        ),
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 0},
            {"type": "number", "minimum": floor, "exclusiveMaximum": float(ceiling), **fraction},
            {"type": "number", "exclusiveMinimum": -float(ceiling), "maximum": -floor, **fraction},
            *integers,
        ],
    }


def platform_limits() -> dict:
    return {
        "dynamodbItemBytes": limits.DYNAMODB_ITEM_BYTES,
        "dynamodbNestingLevels": limits.DYNAMODB_NESTING_LEVELS,
        "dynamodbNumberDigits": limits.DYNAMODB_NUMBER_DIGITS,
        "dynamodbScanPageBytes": limits.DYNAMODB_SCAN_PAGE_BYTES,
        "lambdaSyncPayloadBytes": limits.LAMBDA_SYNC_PAYLOAD_BYTES,
        "apiGatewayPayloadBytes": limits.API_GATEWAY_PAYLOAD_BYTES,
        "apiGatewayRegionalUrlChars": limits.API_GATEWAY_REGIONAL_URL_CHARS,
        "apiGatewayMethodArnBytes": limits.API_GATEWAY_METHOD_ARN_BYTES,
        "notes": (
            "Rules JSON Schema cannot state, which the function enforces with 400 InvalidItem or 413 ItemTooLarge: "
            f"an item of at most {limits.DYNAMODB_ITEM_BYTES} bytes as DynamoDB counts them, nested at most "
            f"{limits.DYNAMODB_NESTING_LEVELS} levels deep, strings of valid Unicode (no lone surrogates), fractions "
            "a double holds exactly. Lambda's and API Gateway's limits are refused by API Gateway before the "
            "function (413, 414); a list page is cut short to stay within Lambda's response payload. "
            "Source: lambda/limits.py."
        ),
    }


_SCHEMAS = {
    "Id": id_schema,
    "Version": version_schema,
    "PageSize": page_size_schema,
    "Number": number_schema,
    "ItemPage": item_page_schema,
}


def main() -> int:
    document = json.loads(DOCUMENT.read_text())
    DOCUMENT.write_text(render(generate(document)))
    print(f"wrote {DOCUMENT.name}: {', '.join(GENERATED_SCHEMAS)} and x-platform-limits from lambda/limits.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
