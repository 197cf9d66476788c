"""Property-based: whatever a client sends, a client mistake is never a 5xx and every error is JSON."""

import json

from hypothesis import example, given
from hypothesis import strategies as st

from localdev.events import proxy_event

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
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(METHODS) | st.text(min_size=1, max_size=8),
        "resource": st.sampled_from(ROUTES) | st.text(max_size=30),
        "item_id": st.text(max_size=140) | st.from_regex(r"[A-Za-z0-9_.:-]{1,20}", fullmatch=True),
        "query": st.dictionaries(
            st.sampled_from(["limit", "next", "x"]) | st.text(min_size=1, max_size=8), st.text(max_size=40), max_size=3
        ),
        "headers": st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=4),
        "body": bodies,
    }
)


@given(request=requests)
def test_client_mistakes_are_never_a_5xx_and_errors_are_json(handler_module, fresh_table, request):
    event = proxy_event(
        request["method"],
        request["resource"],
        "/items",
        path_parameters={"id": request["item_id"]} if "{id}" in request["resource"] else None,
        headers=request["headers"],
        body=request["body"],
    )
    event["queryStringParameters"] = request["query"] or None
    response = handler_module.handler(event, None)
    assert 200 <= response["statusCode"] < 500, response
    response["body"].encode("utf-8")  # the Lambda runtime must be able to send it
    if response["statusCode"] >= 400:
        error = json.loads(response["body"])["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert "Traceback" not in response["body"] and "botocore" not in response["body"]
    elif response["statusCode"] != 204:
        assert isinstance(json.loads(response["body"]), dict)


@given(method=st.sampled_from(["POST", "PUT"]), body=bodies)
@example(method="POST", body='{"n": 100000000000000000000000000000000000000}')  # issue 10: was a 502
@example(method="POST", body='{"n": [{"m": -100000000000000000000000000000000000000000}]}')
def test_any_body_sent_to_create_or_replace_is_never_a_5xx(handler_module, fresh_table, method, body):
    resource, parameters = ("/items", None) if method == "POST" else ("/items/{id}", {"id": "target"})
    event = proxy_event(method, resource, "/items", path_parameters=parameters, body=body)
    response = handler_module.handler(event, None)
    assert 200 <= response["statusCode"] < 500, response
    response["body"].encode("utf-8")  # the Lambda runtime must be able to send it
    if response["statusCode"] >= 400:
        assert json.loads(response["body"])["error"]["code"]
