"""Request validation: turns raw proxy-event fields into checked values or an InvalidRequest/InvalidItem.

Limits follow what DynamoDB can store (lambda/limits.py), so a request that passes here is one the table
accepts: items up to 400 KB, at most 32 levels of nesting, numbers with at most 38 significant digits.
Fractional numbers must also survive a round trip through a double, the type JSON clients parse them into,
so that every number a client sends comes back as the same number. Every parse of client input is bounded
before it runs: number literals before Decimal or int sees them, page tokens by a pattern before decoding.
"""

import base64
import binascii
import json
import re
from decimal import Decimal, InvalidOperation

import limits
from errors import InvalidItem, InvalidRequest, ItemTooLarge

MAX_ITEM_BYTES = limits.DYNAMODB_ITEM_BYTES
MAX_NESTING = limits.DYNAMODB_NESTING_LEVELS
MAX_NUMBER_DIGITS = limits.DYNAMODB_NUMBER_DIGITS
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_ID_LENGTH = 128
ID_PATTERN = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_ID_LENGTH}}}")
# "." and ".." are dot-segments: a client resolving a Location such as /prod/items/.. (RFC 3986, section
# 5.2.4, as curl and browsers do) would land on the stage or the collection, not on the item.
DOT_SEGMENTS = (".", "..")
ID_RULE = "id must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-', and not '.' or '..'"
# The largest integer JSON clients in JavaScript read exactly (Number.MAX_SAFE_INTEGER), and what
# API Gateway's model (JSON numbers in JavaScript) can state exactly.
MAX_VERSION = 2**53 - 1
VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,15}")
# A page token is the base64url (unpadded) of the last id of a page: 1-128 bytes encode to 2-171 characters.
MAX_PAGE_TOKEN_LENGTH = -(-MAX_ID_LENGTH * 4 // 3)
PAGE_TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{2,{MAX_PAGE_TOKEN_LENGTH}}}")
# The longest integer literal a storable number can be written as: one digit per power of ten up to 10^125.
_MAX_INTEGER_LITERAL_DIGITS = limits.DYNAMODB_NUMBER_MAX_EXPONENT + 1
NUMBER_RANGE_RULE = "numbers must lie between 1E-130 and 1E+126 in magnitude"


def validate_id(item_id: str) -> str:
    if not isinstance(item_id, str) or not ID_PATTERN.fullmatch(item_id) or item_id in DOT_SEGMENTS:
        raise InvalidRequest(ID_RULE)
    return item_id


VERSION_RULE = f"version (the version you read) must be an integer from 1 to {MAX_VERSION}"


def validate_version(version) -> int:
    """A body's `version`: a JSON integer (not a bool) in range."""
    if type(version) is not int or not 1 <= version <= MAX_VERSION:
        raise InvalidRequest(VERSION_RULE)
    return version


def parse_version(raw: str | None) -> int | None:
    """The `version` query parameter: the version the client read, or None if it sent none."""
    if raw is None:
        return None
    if not VERSION_PATTERN.fullmatch(raw):
        raise InvalidRequest(VERSION_RULE)
    return validate_version(int(raw))


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
    try:
        document = json.loads(
            raw_bytes, parse_float=_parse_decimal, parse_int=_parse_integer, parse_constant=_reject_constant
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
        return DEFAULT_PAGE_SIZE
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode("ascii")).decode("ascii").rstrip("=")


def decode_page_token(token: str | None) -> str | None:
    """The id to resume after, from a token made by encode_page_token; anything else is a 400."""
    if token is None:
        return None
    try:
        if not PAGE_TOKEN_PATTERN.fullmatch(token):
            raise ValueError("not a page token")
        item_id = validate_id(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii"))
        if encode_page_token(item_id) != token:  # one token per id: no padding bits, no alternative spelling
            raise ValueError("not a canonical page token")
        return item_id
    except (ValueError, binascii.Error, InvalidRequest):
        raise InvalidRequest("next is not a valid page token: send the `next` of the previous page") from None


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
