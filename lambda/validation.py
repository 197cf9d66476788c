"""Request validation: turns raw proxy-event fields into checked values or an InvalidRequest/InvalidItem.

Limits follow what DynamoDB can store, so a request that passes here is one the table accepts:
items up to 400 KB, at most 32 levels of nesting, numbers with at most 38 significant digits.
Fractional numbers must also survive a round trip through a double, the type JSON clients parse them into,
so that every number a client sends comes back as the same number.
"""

import base64
import binascii
import json
import re
from decimal import Decimal

from errors import InvalidItem, InvalidRequest, ItemTooLarge

MAX_ITEM_BYTES = 400 * 1024
MAX_NESTING = 32
MAX_NUMBER_DIGITS = 38
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# The largest integer JSON clients in JavaScript read exactly (Number.MAX_SAFE_INTEGER), and what
# API Gateway's model (JSON numbers in JavaScript) can state exactly.
MAX_VERSION = 2**53 - 1


def validate_id(item_id: str) -> str:
    if not isinstance(item_id, str) or not ID_PATTERN.fullmatch(item_id):
        raise InvalidRequest("id must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'")
    return item_id


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
        document = json.loads(raw_bytes, parse_float=Decimal, parse_constant=_reject_constant)
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
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> str | None:
    """The id to resume after, from a token made by encode_page_token; anything else is a 400."""
    if token is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return validate_id(decoded["id"])
    except (ValueError, TypeError, KeyError, binascii.Error, InvalidRequest):
        raise InvalidRequest("next is not a valid page token") from None


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
    if not decimal.is_zero() and not -130 <= decimal.adjusted() <= 125:
        raise InvalidItem("numbers must lie between 1E-130 and 1E+126 in magnitude")
    if decimal != decimal.to_integral_value() and Decimal(repr(float(decimal))) != decimal:
        raise InvalidItem("fractional numbers must be exactly representable as a double")
