"""Response bodies as JSON text, every number written exactly and never longer than it needs to be.

json.dumps writes a Python int in full, so an integer DynamoDB holds as one digit and an exponent (1E+125)
would be a 126-digit literal: a 5-byte number as sent, 126 bytes as answered. attributes.py keeps such
integers as Decimal, and this writer gives them their exponent form; everything else is written exactly as
json.dumps writes it (same separators, non-ASCII as is), so a body's size is predictable item by item.
"""

import json
from decimal import Decimal

ITEM_SEPARATOR = ", "
KEY_SEPARATOR = ": "


def dumps(value) -> str:
    if not _has_decimal(value):
        return json.dumps(value, ensure_ascii=False)
    parts: list[str] = []
    _write(value, parts.append)
    return "".join(parts)


def _has_decimal(value) -> bool:
    if isinstance(value, Decimal):
        return True
    if isinstance(value, dict):
        return any(map(_has_decimal, value.values()))
    if isinstance(value, list):
        return any(map(_has_decimal, value))
    return False


def _write(value, write) -> None:
    if isinstance(value, Decimal):
        write(str(value))
    elif isinstance(value, dict):
        write("{")
        for index, (key, child) in enumerate(value.items()):
            write((ITEM_SEPARATOR if index else "") + json.dumps(key, ensure_ascii=False) + KEY_SEPARATOR)
            _write(child, write)
        write("}")
    elif isinstance(value, list):
        write("[")
        for index, child in enumerate(value):
            if index:
                write(ITEM_SEPARATOR)
            _write(child, write)
        write("]")
    else:
        write(json.dumps(value, ensure_ascii=False))
