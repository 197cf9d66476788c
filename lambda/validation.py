"""Request validation: turns raw proxy-event fields into checked values or an InvalidRequest/InvalidItem.

Limits follow what DynamoDB can store (lambda/limits.py), so a request that passes here is one the table
accepts: items up to 400 KB, at most 32 levels of nesting, numbers with at most 38 significant digits.
Fractional numbers must also survive a round trip through a double, the type JSON clients parse them into,
so that every number a client sends comes back as the same number. Every parse of client input is bounded
before it runs: number literals before Decimal or int sees them.
"""

import base64
import binascii
import json
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import unquote

import limits
from errors import InvalidItem, InvalidRequest, ItemTooLarge

MAX_ITEM_BYTES = limits.DYNAMODB_ITEM_BYTES
MAX_NESTING = limits.DYNAMODB_NESTING_LEVELS
MAX_NUMBER_DIGITS = limits.DYNAMODB_NUMBER_DIGITS
ID_PATTERN = re.compile(limits.ID_PATTERN)
ID_RULE = f"id must be {limits.ID_DESCRIPTION}"
# The longest integer literal a storable number can be written as: one digit per power of ten up to 10^125.
_MAX_INTEGER_LITERAL_DIGITS = limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1
NUMBER_RANGE_RULE = (
    f"numbers must lie between 1E{limits.DYNAMODB_NUMBER_MIN_EXPONENT} and "
    f"1E+{limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1} in magnitude"
)


def validate_id(item_id: object) -> str:
    if not isinstance(item_id, str) or not ID_PATTERN.fullmatch(item_id) or item_id in limits.DOT_SEGMENTS:
        raise InvalidRequest(ID_RULE)
    return item_id


def path_id(raw: object) -> str:
    """The id of a path /items/{id}. API Gateway's REST proxy hands the function the segment as the client sent it,
    still percent-encoded (serverless/serverless#5037; hotsock/voker#8), so it is decoded once, as UTF-8
    (RFC 3986, section 2.5), and then checked as an id: `ns%3A1` is `ns:1`, `ns%253A1` is refused."""
    if not isinstance(raw, str):
        raise InvalidRequest(ID_RULE)
    try:
        return validate_id(unquote(raw, errors="strict"))
    except UnicodeDecodeError:
        raise InvalidRequest(ID_RULE) from None


VERSION_RULE = f"version (the version you read) must be an integer from 1 to {limits.VERSION_MAX}"
UTF8_RULE = "request body must be JSON encoded as UTF-8"
LIMIT_RULE = f"limit must be an integer from 1 to {limits.PAGE_SIZE_MAX}"
# A JSON number literal, as a query value may carry one; bounded, so that nothing long is ever parsed.
NUMBER_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
MAX_QUERY_NUMBER_LENGTH = 32


def validate_version(version) -> int:
    """A body's `version`: an integer in range. As in JSON Schema 2020-12 (the document's dialect) and to a
    JavaScript client, 3.0 is the integer 3; a bool is not a number."""
    return _integer_in_range(version, 1, limits.VERSION_MAX, VERSION_RULE)


def parse_version(raw: str | None) -> int | None:
    """The `version` query parameter: the version the client read, or None if it sent none."""
    if raw is None:
        return None
    return _integer_in_range(_query_number(raw, VERSION_RULE), 1, limits.VERSION_MAX, VERSION_RULE)


def _query_number(raw: str, rule: str) -> Decimal:
    if len(raw) > MAX_QUERY_NUMBER_LENGTH or not NUMBER_LITERAL.fullmatch(raw):
        raise InvalidRequest(rule)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise InvalidRequest(rule) from None


def _integer_in_range(value, low: int, high: int, rule: str) -> int:
    """value as an int if it is a whole number from low to high (the range first, so no huge value is rounded)."""
    number = isinstance(value, int) and not isinstance(value, bool) or isinstance(value, Decimal) and value.is_finite()
    if not number or not low <= value <= high or value != int(value):
        raise InvalidRequest(rule)
    return int(value)


def query_parameters(event: dict, allowed: frozenset[str]) -> dict:
    """The request's query parameters, refusing any the operation does not define."""
    query = event.get("queryStringParameters") or {}
    unknown = set(query) - allowed
    if unknown:
        raise InvalidRequest(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    return query


def parse_body(raw: str | None, is_base64: bool) -> dict:
    """The request body as a JSON object whose values DynamoDB can store exactly."""
    if raw is None or raw == "":
        raise InvalidRequest("request body must be a JSON object")
    if is_base64:
        try:
            raw_bytes = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("request body is not valid base64") from None
    else:
        raw_bytes = raw.encode("utf-8", "surrogatepass")
    if len(raw_bytes) > MAX_ITEM_BYTES:
        raise ItemTooLarge(f"request body exceeds {MAX_ITEM_BYTES} bytes, the largest item DynamoDB stores")
    # JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1): json.loads on bytes would guess UTF-16 or
    # UTF-32 from the NULs among the first four octets (RFC 4627, section 3), text API Gateway reads as UTF-8.
    try:
        text = raw_bytes.decode("utf-8") if is_base64 else raw
    except UnicodeDecodeError:
        raise InvalidRequest(UTF8_RULE) from None
    if "\x00" in text[:4]:
        raise InvalidRequest(UTF8_RULE)
    try:
        document = json.loads(
            text, parse_float=_parse_decimal, parse_int=_parse_integer, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("request body must be a JSON object")
    _check_storable(document, depth=0)
    return document


def parse_limit(query: dict) -> int:
    raw = query.get("limit")
    if raw is None:
        return limits.PAGE_SIZE_DEFAULT
    return _integer_in_range(_query_number(raw, LIMIT_RULE), 1, limits.PAGE_SIZE_MAX, LIMIT_RULE)


def parse_next(query: dict) -> str | None:
    """The id a page resumes after: the `next` of the previous page, which is its last item's id."""
    raw = query.get("next")
    if raw is None:
        return None
    try:
        return validate_id(raw)
    except InvalidRequest:
        raise InvalidRequest(f"next must be the `next` of the previous page: {ID_RULE}") from None


def _parse_decimal(literal: str) -> Decimal:
    """A JSON fraction or exponent literal; exponents beyond Decimal's own range are refused, not raised."""
    try:
        return Decimal(literal)
    except InvalidOperation:
        raise InvalidItem(NUMBER_RANGE_RULE) from None


def _parse_integer(literal: str) -> int:
    """A JSON integer literal, refused before int() if no storable number has that many digits."""
    if len(literal.lstrip("-")) > _MAX_INTEGER_LITERAL_DIGITS:
        raise InvalidItem(NUMBER_RANGE_RULE)
    return int(literal)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_storable(value, depth: int) -> None:
    if depth > MAX_NESTING:
        raise InvalidItem(f"item nests deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "":
                raise InvalidItem("attribute names must not be empty")
            _check_text(key)
            _check_storable(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            _check_storable(child, depth + 1)
    elif isinstance(value, str):
        _check_text(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, Decimal)):
        _check_number(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidItem("strings must be valid Unicode (no lone surrogates)") from None


def _check_number(number: int | Decimal) -> None:
    decimal = Decimal(number)
    significant = len("".join(map(str, decimal.as_tuple().digits)).strip("0"))
    if significant > MAX_NUMBER_DIGITS:
        raise InvalidItem(f"numbers may have at most {MAX_NUMBER_DIGITS} significant digits")
    if not decimal.is_zero() and not (
        limits.DYNAMODB_NUMBER_MIN_EXPONENT <= decimal.adjusted() <= limits.DYNAMODB_NUMBER_MAX_EXPONENT
    ):
        raise InvalidItem(NUMBER_RANGE_RULE)
    if decimal != decimal.to_integral_value() and Decimal(repr(float(decimal))) != decimal:
        raise InvalidItem("fractional numbers must be exactly representable as a double")
