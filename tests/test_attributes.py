"""lambda/attributes.py converts exactly as boto3's TypeSerializer/TypeDeserializer do (boto3 is the
test-only oracle) on every JSON value the API accepts, except where boto3 itself cannot: it raises
decimal.Rounded on integers written with more than 38 digits that DynamoDB stores exactly."""

import json
from decimal import Decimal, Rounded

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import assume, example, given
from hypothesis import strategies as st

JSON_NUMBERS = st.integers(min_value=-(10**45), max_value=10**45) | st.floats(
    allow_nan=False, allow_infinity=False
).map(lambda f: json.loads(json.dumps(f), parse_float=Decimal))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | JSON_NUMBERS | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _accepted(value, validation) -> bool:
    from errors import InvalidItem

    try:
        validation._check_storable(value, depth=0)
        return True
    except InvalidItem:
        return False


def _plain(value):
    """boto3's deserialized value in the API's types: integral Decimals as int, others as float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _numbers_exactly_equal(ours: dict, value) -> bool:
    [(kind, inner)] = ours.items()
    if kind == "N":
        return Decimal(inner) == value
    if kind == "L":
        return all(_numbers_exactly_equal(o, v) for o, v in zip(inner, value, strict=True))
    if kind == "M":
        return inner.keys() == value.keys() and all(_numbers_exactly_equal(inner[k], value[k]) for k in inner)
    return True


@given(value=JSON_VALUES)
@example(value=10**38)
@example(value={"n": [-(10**40)]})
def test_to_attribute_agrees_with_boto3s_serializer(handler_module, value):
    import validation
    from attributes import to_attribute

    assume(_accepted(value, validation))
    ours = to_attribute(value)
    try:
        expected = TypeSerializer().serialize(value)
    except Rounded:
        # boto3 cannot write it; DynamoDB stores it exactly (at most 38 significant digits), and so do we.
        assert _numbers_exactly_equal(ours, value)
        return
    assert ours == expected


@given(value=JSON_VALUES)
def test_from_attribute_agrees_with_boto3s_deserializer(handler_module, value):
    import validation
    from attributes import from_attribute, to_attribute

    assume(_accepted(value, validation))
    attribute = to_attribute(value)
    try:
        expected = _plain(TypeDeserializer().deserialize(attribute))
    except Rounded:
        expected = _plain(value)  # boto3 cannot read it back either; the value itself is the exact answer
    assert from_attribute(attribute) == expected
