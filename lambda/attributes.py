"""JSON values <-> DynamoDB attribute values, exactly: S, N, BOOL, NULL, L and M (JSON has no other types).

Numbers are written as the exact decimal text of the value, never through a 38-digit rounding context:
DynamoDB counts significant digits with leading and trailing zeros trimmed, so 1 followed by 38 zeros is
one digit and storable, where boto3's TypeSerializer raises decimal.Rounded on it.
validation.py has already refused numbers DynamoDB cannot hold exactly. Read back, an integral number
becomes an int and any other a float, the types the client's JSON had (validation guarantees a fraction
survives the double), except a large integer whose exponent form is shorter (see _number).
"""

from decimal import Context, Decimal

import limits


def to_attribute(value) -> dict:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attribute(child) for child in value]}
    if isinstance(value, dict):
        return {"M": to_item(value)}
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def to_item(document: dict) -> dict:
    return {name: to_attribute(value) for name, value in document.items()}


def from_attribute(attribute: dict):
    [(kind, value)] = attribute.items()
    if kind == "S" or kind == "BOOL":
        return value
    if kind == "N":
        return _number(Decimal(value))
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(child) for child in value]
    if kind == "M":
        return from_item(value)
    raise TypeError(f"attribute type {kind} is not written by this API")


# Enough precision for any number DynamoDB stores (38 significant digits), so normalizing never rounds.
EXACT = Context(prec=limits.DYNAMODB_NUMBER_DIGITS)


def _number(number: Decimal) -> int | float | Decimal:
    """An integral number as an int, unless it reaches PLAIN_INTEGER_LIMIT and its exponent form is shorter: then
    a normalized Decimal, which json_text.py writes as 1E+125 rather than 126 digits. A fraction as a float."""
    if number != number.to_integral_value():
        return float(number)
    if abs(number) < limits.PLAIN_INTEGER_LIMIT:
        return int(number)
    exponent_form = number.normalize(EXACT)
    return exponent_form if len(str(exponent_form)) < len(str(int(number))) else int(number)


def from_item(item: dict) -> dict:
    return {name: from_attribute(value) for name, value in item.items()}
