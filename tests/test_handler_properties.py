"""Property-based: whatever a client sends, a client mistake is never a 5xx and every error is JSON.

Two kinds of search: arbitrary text and bytes everywhere a client controls (body, path id, query values),
and structured generators for what a fuzzer rarely reaches by chance: number literals with extreme
exponents or digit counts, nesting past every parser's depth, escape-heavy strings, bodies at the size
limits, `next` values of every shape (arbitrary text, base64 of hostile content, as the old tokens were).
"""

import base64
import json

from hypothesis import example, given
from hypothesis import strategies as st

from conftest import proxy_event


ROUTES = ["/items", "/items/{id}"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

# Any code point, lone surrogates included (JSON can carry them as \ud800 escapes).
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=50)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5),
    max_leaves=30,
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(any_text, json_values, max_size=8).map(json.dumps),
    st.fixed_dictionaries({"id": st.text(max_size=140), "version": json_values}).map(json.dumps),
    st.integers(min_value=400 * 1024 - 20, max_value=450 * 1024).map(lambda n: json.dumps({"blob": "x" * n})),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.dictionaries(
        st.text(max_size=3), st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1), min_size=1
    ).map(json.dumps),
)
# Number literals: mantissas and exponents far past Decimal's and DynamoDB's ranges, and long digit runs.
number_literals = st.one_of(
    st.builds(
        "{}{}e{}{}".format,
        st.sampled_from(["", "-"]),
        st.integers(min_value=0, max_value=10**40),
        st.sampled_from(["", "+", "-"]),
        st.integers(min_value=0, max_value=10**30),
    ),
    st.builds("{}.{}E{}".format, st.integers(), st.integers(min_value=0), st.integers()),
    st.integers(min_value=1, max_value=6000).map(lambda digits: "9" * digits),
    st.integers(min_value=1, max_value=6000).map(lambda digits: "0." + "0" * digits + "1"),
)
# Strings whose JSON escapes are longest: control characters, quotes, backslashes, non-ASCII, surrogates.
escape_heavy_text = st.text(
    alphabet=st.sampled_from(["\x01", "\x1f", '"', "\\", "\u00e9", "\u0800", "\U0001f600", "\ud800"]),
    max_size=200,
)
structured_bodies = st.one_of(
    number_literals.map(lambda literal: '{"n": %s}' % literal),
    number_literals.map(lambda literal: '{"n": [%s]}' % literal),
    st.integers(min_value=1, max_value=100_000).map(lambda depth: '{"a": ' * depth + "1" + "}" * depth),
    st.integers(min_value=1, max_value=100_000).map(lambda depth: '{"a": ' + "[" * depth + "]" * depth + "}"),
    st.dictionaries(st.text(max_size=3), escape_heavy_text, max_size=4).map(json.dumps),
    st.integers(min_value=60_000, max_value=70_000).map(lambda n: json.dumps({"c": "\x01" * n})),
    st.integers(min_value=400 * 1024 - 64, max_value=400 * 1024 + 64).map(lambda n: '{"b": "' + "y" * n + '"}'),
)
ids = st.one_of(
    st.text(max_size=140),
    st.from_regex(r"[A-Za-z0-9_.:-]{1,20}", fullmatch=True),
    st.sampled_from([".", "..", "...", "%2e", "%2E%2E", "a/b", "", " "]),
)
next_values = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
    st.integers(min_value=1, max_value=5000).map(
        lambda depth: base64.urlsafe_b64encode(b"[" * depth).decode().rstrip("=")
    ),
    ids.map(lambda item_id: base64.urlsafe_b64encode(item_id.encode("utf-8", "surrogatepass")).decode().rstrip("=")),
)
query_values = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.sampled_from(["0", "-1", "1e3", "0x10", "9007199254740992", "01", "１"]),
)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(METHODS) | st.text(min_size=1, max_size=8),
        "resource": st.sampled_from(ROUTES) | st.text(max_size=30),
        "item_id": ids,
        "query": st.one_of(
            st.dictionaries(
                st.sampled_from(["limit", "next", "version", "x"]) | st.text(min_size=1, max_size=8),
                query_values,
                max_size=3,
            ),
            st.fixed_dictionaries({"next": next_values}),
            st.fixed_dictionaries({"version": query_values}),
        ),
        "headers": st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=4),
        "body": bodies | structured_bodies,
    }
)


def assert_a_client_answer(response: dict) -> None:
    """A 2xx-4xx Lambda can return (within its payload limit), an error as JSON without internals."""
    import limits

    assert 200 <= response["statusCode"] < 500, response
    response["body"].encode("utf-8")  # the Lambda runtime must be able to send it
    assert len(json.dumps(response)) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES
    if response["statusCode"] >= 400:
        error = json.loads(response["body"])["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert "Traceback" not in response["body"] and "botocore" not in response["body"]
    elif response["statusCode"] != 204:
        assert isinstance(json.loads(response["body"]), dict)


@given(request=requests)
def test_client_mistakes_are_never_a_5xx_and_errors_are_json(function, stage, request):
    event = proxy_event(
        request["method"],
        request["resource"],
        "/items",
        path_parameters={"id": request["item_id"]} if "{id}" in request["resource"] else None,
        headers=request["headers"],
        body=request["body"],
        stage=stage,
    )
    event["queryStringParameters"] = request["query"] or None
    assert_a_client_answer(function.handle(event, None))


@given(method=st.sampled_from(["POST", "PUT"]), body=bodies | structured_bodies)
@example(method="POST", body='{"n": 100000000000000000000000000000000000000}')  # a 39-digit integer: was a 502
@example(method="POST", body='{"n": [{"m": -100000000000000000000000000000000000000000}]}')
@example(method="POST", body='{"a": 1e9999999999999999999}')  # decimal.InvalidOperation: was a 502
@example(method="PUT", body='{"a": 0e99999999999999999999, "version": 1}')
def test_any_body_sent_to_create_or_replace_is_never_a_5xx(function, stage, method, body):
    resource, parameters = ("/items", None) if method == "POST" else ("/items/{id}", {"id": "target"})
    event = proxy_event(method, resource, "/items", path_parameters=parameters, body=body, stage=stage)
    assert_a_client_answer(function.handle(event, None))


@given(next_value=next_values, limit=st.none() | query_values)
@example(next_value=base64.urlsafe_b64encode(b"[" * 3000).decode(), limit=None)  # RecursionError: was a 502
def test_any_next_and_limit_is_never_a_5xx(function, stage, next_value, limit):
    event = proxy_event("GET", "/items", "/items", stage=stage)
    event["queryStringParameters"] = {"next": next_value, **({"limit": limit} if limit is not None else {})}
    assert_a_client_answer(function.handle(event, None))


@given(method=st.sampled_from(["GET", "PUT", "DELETE"]), item_id=ids, version=st.none() | query_values)
def test_any_path_id_and_version_is_never_a_5xx(function, stage, method, item_id, version):
    body = json.dumps({"version": 1}) if method == "PUT" else None
    event = proxy_event(
        method, "/items/{id}", f"/items/{item_id}", path_parameters={"id": item_id}, body=body, stage=stage
    )
    event["pathParameters"] = {"id": item_id}
    event["queryStringParameters"] = {"version": version} if version is not None else None
    assert_a_client_answer(function.handle(event, None))
