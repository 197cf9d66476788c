"""Requests a hostile client can send and pages the table can hold: each is a 4xx or a response Lambda can
return, never a raised error (which API Gateway answers with 502 and the error-rate alarm counts).

Each class of issue 16 has its examples here; tests/test_handler_properties.py searches the whole space.
"""

import base64
import json

import boto3
import pytest
from urllib.parse import quote
from hypothesis import given
from hypothesis import strategies as st

from test_handler import assert_error

# Number literals outside what Decimal (or int) can hold, and just inside it.
UNPARSABLE_NUMBERS = ["1e9999999999999999999", "0e99999999999999999999", "-0e-99999999999999999999", "1" * 5000]


@pytest.mark.parametrize("literal", UNPARSABLE_NUMBERS)
def test_a_number_literal_beyond_any_decimal_is_a_400(api, literal):
    response = api.request("POST", "/items", body='{"a": %s}' % literal)
    assert_error(response, 400, "InvalidItem")
    assert "1E-130 and 1E+126" in response.json["error"]["message"]


@pytest.mark.parametrize("literal", ["1e999999999999999999", "1" + "0" * 126, "1E+126", "1E-131"])
def test_a_parsable_literal_out_of_dynamodbs_range_is_a_400(api, literal):
    assert_error(api.request("POST", "/items", body='{"a": %s}' % literal), 400, "InvalidItem")


@pytest.mark.parametrize("literal", ["1" + "0" * 125, "1E+125", "-1E-130", "0e-999999"])
def test_literals_at_the_edges_of_dynamodbs_range_are_stored(api, literal):
    assert api.request("POST", "/items", body='{"a": %s}' % literal).status == 201


# A page's next ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "next_id",
    [
        "[" * 3000,  # issue 16: this, base64-encoded, recursed in the old token decoder (a 502)
        ".",
        "..",
        "has space",
        "ü",
        "x" * 129,
        "x" * 10_000,
        "",
    ],
)
def test_a_next_that_is_not_an_id_is_a_400(api, next_id):
    assert_error(api.request("GET", "/items", query=f"next={quote(next_id)}"), 400, "InvalidRequest")


def test_next_names_the_pages_last_item_and_the_following_page_resumes_after_it(api):
    for item_id in ("a", "b", "c"):
        api.request("POST", "/items", body={"id": item_id})
    first = api.request("GET", "/items", query="limit=1").json
    assert first["next"] == first["items"][0]["id"]
    second = api.request("GET", "/items", query=f"limit=2&next={first['next']}").json
    assert first["items"][0] not in second["items"] and len(second["items"]) == 2


def test_a_next_naming_no_item_is_accepted_as_the_document_allows(api):
    """Any id is a valid `next` by the document's schema, so the function accepts it (schemathesis found
    ?next=0 refused while the token was base64): DynamoDB resumes after where that key would be."""
    api.request("POST", "/items", body={"id": "only"})
    assert api.request("GET", "/items", query="next=0").status == 200


# Pages within Lambda's response payload ---------------------------------------------------------------------------


def _fill_with_escape_heavy_items(table: str, local_dynamodb, count: int, blob_bytes: int) -> None:
    """Items written as another writer could (not through the API), every stored byte a control character:
    the most a stored byte grows when escaped (7 bytes in the runtime's response envelope)."""
    client = boto3.client("dynamodb", endpoint_url=local_dynamodb.endpoint_url)
    for index in range(count):
        client.put_item(
            TableName=table,
            Item={"id": {"S": f"big-{index:03}"}, "blob": {"S": "\x01" * blob_bytes}, "version": {"N": "1"}},
        )


def test_a_full_scan_page_of_escape_heavy_items_fits_lambdas_response_limit(api, fresh_table, local_dynamodb):
    """The worst page: DynamoDB's Scan stops at 1 MB read (moto at 1,000,000 bytes), about 9 items of a tenth
    of that, which escape to over 6.5 MB, past what Lambda can return."""
    import limits

    _fill_with_escape_heavy_items(fresh_table, local_dynamodb, 25, limits.DYNAMODB_SCAN_PAGE_BYTES // 10)
    seen, token, sizes = [], None, []
    while True:
        page = api.request("GET", "/items", query="limit=100" + (f"&next={token}" if token else ""))
        assert page.status == 200 and page.json["items"], "every page is an answer and makes progress"
        sizes.append(len(json.dumps(page.raw)))
        seen += [item["id"] for item in page.json["items"]]
        token = page.json.get("next")
        if token is None:
            break
    assert max(sizes) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES, sizes
    assert max(sizes) > limits.LAMBDA_SYNC_PAYLOAD_BYTES * 0.8, "pages are cut near the limit, not far below"
    assert sorted(seen) == [f"big-{index:03}" for index in range(25)], "each item exactly once"


def test_the_largest_escape_heavy_item_alone_is_readable(api, fresh_table, local_dynamodb):
    import limits

    blob_bytes = limits.DYNAMODB_ITEM_BYTES - 10_000  # moto refuses items past 405,000 bytes, below AWS's 409,600
    _fill_with_escape_heavy_items(fresh_table, local_dynamodb, 1, blob_bytes)
    for response in (api.request("GET", "/items/big-000"), api.request("GET", "/items")):
        assert response.status == 200 and len(json.dumps(response.raw)) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES
    assert len(api.request("GET", "/items/big-000").json["blob"]) == blob_bytes


def test_any_item_dynamodb_can_hold_fits_one_response_even_fully_escaped(handler_module):
    """What makes a non-empty page always possible: one item, at most 400 KB, escaped at the worst rate."""
    import limits

    assert limits.DYNAMODB_ITEM_BYTES * limits.WORST_CASE_ESCAPED_BYTES_PER_BYTE + 4096 < (
        limits.LAMBDA_SYNC_PAYLOAD_BYTES
    )


@given(
    items=st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=5), st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
        ),
        max_size=8,
    )
)
def test_the_predicted_size_of_each_item_is_what_it_adds_to_the_response(handler_module, items):
    items = [{**item, "id": f"i{index}"} for index, item in enumerate(items)]
    empty = len(json.dumps(handler_module._response(200, {"items": []}, {})))
    measured = len(json.dumps(handler_module._response(200, {"items": items}, {})))
    predicted = sum(handler_module._escaped_bytes(item) for item in items)
    predicted += len(handler_module.ITEM_SEPARATOR) * max(len(items) - 1, 0)
    assert measured == empty + predicted


# Dot-segment ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("item_id", [".", ".."])
def test_a_dot_segment_id_is_refused_on_create_and_in_the_path(api, item_id):
    assert_error(api.request("POST", "/items", body={"id": item_id}), 400, "InvalidRequest")
    for method, body in (("GET", None), ("PUT", {"version": 1}), ("DELETE", None)):
        response = api.request(method, f"/items/{item_id}", body=body)
        assert_error(response, 400, "InvalidRequest")


@pytest.mark.parametrize("item_id", ["...", ".a", "a.", "a..b"])
def test_dots_that_are_not_a_whole_dot_segment_are_valid_ids(api, item_id):
    response = api.request("POST", "/items", body={"id": item_id})
    assert response.status == 201 and response.headers["Location"].endswith(f"/items/{item_id}")


# Delete with the version read ----------------------------------------------------------------------------------


def test_a_delete_with_a_stale_version_is_a_409_and_deletes_nothing(api):
    api.request("POST", "/items", body={"id": "stale", "n": 1})
    api.request("PUT", "/items/stale", body={"n": 2, "version": 1})
    response = api.request("DELETE", "/items/stale", query="version=1")
    assert_error(response, 409, "VersionConflict")
    assert "version 2" in response.json["error"]["message"]
    assert api.request("GET", "/items/stale").json == {"id": "stale", "n": 2, "version": 2}


def test_a_delete_with_the_current_version_deletes(api):
    api.request("POST", "/items", body={"id": "fresh"})
    assert api.request("DELETE", "/items/fresh", query="version=1").status == 204
    assert_error(api.request("GET", "/items/fresh"), 404, "ItemNotFound")


def test_a_versioned_delete_of_a_missing_item_is_a_404(api):
    assert_error(api.request("DELETE", "/items/never", query="version=1"), 404, "ItemNotFound")


@pytest.mark.parametrize("query", ["version=0", "version=-1", "version=1.5", "version=abc", "version=",
                                   "version=9007199254740992", "version=01", "force=true"])
def test_a_delete_with_a_bad_version_or_parameter_is_a_400_and_deletes_nothing(api, query):
    api.request("POST", "/items", body={"id": "kept"})
    assert_error(api.request("DELETE", "/items/kept", query=query), 400, "InvalidRequest")
    assert api.request("GET", "/items/kept").status == 200


@pytest.mark.parametrize(("method", "path", "body"), [("GET", "/items/q", None), ("PUT", "/items/q", {"version": 1}),
                                                      ("POST", "/items", {"id": "q2"})])
def test_operations_without_query_parameters_refuse_any(api, method, path, body):
    api.request("POST", "/items", body={"id": "q"})
    assert_error(api.request(method, path, body=body, query="version=1"), 400, "InvalidRequest")
