"""The items API, through the Lambda handler, against the local DynamoDB-protocol server over HTTP."""

import json
from decimal import Decimal
import logging
import os
import uuid

import pytest

from api import contract
from conftest import Response, proxy_event

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def assert_error(response, status: int, code: str):
    assert response.status == status, response.raw
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"]["code"] == code
    assert isinstance(response.json["error"]["message"], str) and response.json["error"]["message"]


# POST /items ----------------------------------------------------------------------------------------------------


def test_create_generates_a_uuid_and_returns_201_with_location(api):
    response = api.request("POST", "/items", body={"name": "first"})
    assert response.status == 201
    item = response.json
    assert uuid.UUID(item["id"]).version == 4
    assert item == {"id": item["id"], "name": "first", "version": 1}
    assert response.headers["Location"] == f"/{api.stage}/items/{item['id']}"


def test_create_with_a_client_id_keeps_it(api):
    response = api.request("POST", "/items", body={"id": "order-17", "qty": 3})
    assert response.status == 201 and response.json["id"] == "order-17"
    assert api.request("GET", "/items/order-17").json == {"id": "order-17", "qty": 3, "version": 1}


def test_create_never_overwrites_an_existing_item(api):
    api.request("POST", "/items", body={"id": "taken", "owner": "first"})
    response = api.request("POST", "/items", body={"id": "taken", "owner": "second"})
    assert_error(response, 409, "ItemAlreadyExists")
    assert api.request("GET", "/items/taken").json["owner"] == "first"


def test_create_rejects_a_version_in_the_body(api):
    assert_error(api.request("POST", "/items", body={"version": 7}), 400, "InvalidRequest")


@pytest.mark.parametrize("body", ["[]", '"text"', "5", "null", "{not json", "", '{"a": NaN}'])
def test_body_that_is_not_a_json_object_is_a_400(api, body):
    assert_error(api.request("POST", "/items", body=body), 400, "InvalidRequest")


@pytest.mark.parametrize("item_id", ["has space", "x" * 129, "slash/inside", "", 12])
def test_create_rejects_an_invalid_client_id(api, item_id):
    assert_error(api.request("POST", "/items", body={"id": item_id}), 400, "InvalidRequest")


def test_body_larger_than_a_dynamodb_item_is_a_413(api):
    response = api.request("POST", "/items", body={"blob": "x" * (400 * 1024)})
    assert_error(response, 413, "ItemTooLarge")


def test_item_just_over_dynamodb_size_after_parsing_is_a_413(api):
    """The body fits the byte pre-check; DynamoDB's own size limit (names + values) still says no."""
    body = {f"k{i}": "y" * 1000 for i in range(405)}
    response = api.request("POST", "/items", body=json.dumps(body, separators=(",", ":")))
    assert response.status in (201, 413)
    if response.status == 413:
        assert response.error_code == "ItemTooLarge"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"deep": json.loads("[" * 40 + "]" * 40)}, "InvalidItem"),
        ({"": "empty name"}, "InvalidItem"),
        ({"n": 10**39 + 1}, "InvalidItem"),
        ('{"n": 3.14159265358979323846264338}', "InvalidItem"),
        ('{"n": 1e400}', "InvalidItem"),
        ('{"s": "\\ud800"}', "InvalidItem"),
    ],
)
def test_items_dynamodb_cannot_store_exactly_are_a_400(api, body, code):
    assert_error(api.request("POST", "/items", body=body), 400, code)


# Numbers ---------------------------------------------------------------------------------------------------------


def test_numbers_round_trip_exactly(api):
    numbers = {"price": 12.5, "big": 12345678901234567890123456789012345678, "neg": -7, "tiny": 0.1, "zero": 0}
    created = api.request("POST", "/items", body={"id": "n1", **numbers})
    assert created.status == 201
    fetched = api.request("GET", "/items/n1")
    assert {k: fetched.json[k] for k in numbers} == numbers
    assert (
        '"price": 12.5' in fetched.raw["body"]
        and '"big": 12345678901234567890123456789012345678' in fetched.raw["body"]
    )
    assert isinstance(fetched.json["big"], int) and isinstance(fetched.json["price"], float)


@pytest.mark.parametrize(
    "body",
    [
        '{"n": 100000000000000000000000000000000000000}',
        '{"n": -100000000000000000000000000000000000000}',
        '{"n": {"deep": [1, 100000000000000000000000000000000000000000000000000]}}',
        '{"n": 1.5e100}',
        '{"n": 123456789012345678901234567890123456780000}',
    ],
    ids=["39-digit", "negative", "nested", "exponent", "38-significant-then-zeros"],
)
def test_a_number_dynamodb_stores_exactly_is_stored_even_past_38_written_digits(api, body):
    """1 followed by 38 zeros is one significant digit; DynamoDB stores it, so the API must too."""
    created = api.request("POST", "/items", body=body)
    assert created.status == 201, created.json
    fetched = api.request("GET", f"/items/{created.json['id']}")
    exact = dict(parse_float=Decimal, parse_int=Decimal)
    assert json.loads(fetched.raw["body"], **exact)["n"] == json.loads(body, **exact)["n"]


def test_a_number_past_38_significant_digits_is_a_400_not_a_5xx(api):
    response = api.request("POST", "/items", body='{"n": [1000000000000000000000000000000000000001]}')
    assert_error(response, 400, "InvalidItem")


def test_nested_documents_and_unicode_round_trip(api):
    document = {"id": "doc", "tags": ["ü", "日本", "🙂"], "meta": {"a": [1, {"b": None, "c": True}], "e": ""}}
    api.request("POST", "/items", body=document)
    assert api.request("GET", "/items/doc").json == {**document, "version": 1}


# GET /items/{id} -------------------------------------------------------------------------------------------------


def test_get_missing_item_is_a_404(api):
    assert_error(api.request("GET", "/items/nope"), 404, "ItemNotFound")


def test_get_with_an_invalid_id_is_a_400(api):
    assert_error(api.request("GET", "/items/bad%20id"), 400, "InvalidRequest")


# GET /items (list) -----------------------------------------------------------------------------------------------


def test_list_pages_through_every_item_exactly_once(api):
    created = {api.request("POST", "/items", body={"n": i}).json["id"] for i in range(45)}
    seen, token, pages = [], None, 0
    while True:
        query = "limit=20" + (f"&next={token}" if token else "")
        page = api.request("GET", "/items", query=query)
        assert page.status == 200 and len(page.json["items"]) <= 20
        seen += [item["id"] for item in page.json["items"]]
        pages += 1
        token = page.json.get("next")
        if token is None:
            break
    assert sorted(seen) == sorted(created) and pages >= 3


def test_list_defaults_to_20_items(api):
    for i in range(25):
        api.request("POST", "/items", body={"n": i})
    page = api.request("GET", "/items")
    assert len(page.json["items"]) == 20 and "next" in page.json


def test_each_page_reads_at_most_limit_items(api, dynamodb_calls):
    for i in range(30):
        api.request("POST", "/items", body={"n": i})
    before = len(dynamodb_calls)
    api.request("GET", "/items", query="limit=7")
    [scan] = [c for c in dynamodb_calls[before:] if c["operation"] == "Scan"]
    assert scan["params"]["Limit"] == 7


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "limit="])
def test_list_rejects_a_bad_limit(api, query):
    assert_error(api.request("GET", "/items", query=query), 400, "InvalidRequest")


@pytest.mark.parametrize("next_id", ["bad id", "%FF%FE", "ü", "..", "a/b"])
def test_list_rejects_a_next_that_is_not_an_id(api, next_id):
    assert_error(api.request("GET", "/items", query=f"next={next_id}"), 400, "InvalidRequest")


def test_list_rejects_unknown_query_parameters(api):
    assert_error(api.request("GET", "/items", query="sort=desc"), 400, "InvalidRequest")


# PUT /items/{id} -------------------------------------------------------------------------------------------------


def test_replace_with_the_current_version_bumps_it(api):
    api.request("POST", "/items", body={"id": "r1", "colour": "red", "size": 1})
    response = api.request("PUT", "/items/r1", body={"colour": "blue", "version": 1})
    assert response.status == 200
    assert response.json == {"id": "r1", "colour": "blue", "version": 2}
    assert api.request("GET", "/items/r1").json == {"id": "r1", "colour": "blue", "version": 2}


def test_replace_with_a_stale_version_is_a_409_and_changes_nothing(api):
    api.request("POST", "/items", body={"id": "r2", "colour": "red"})
    api.request("PUT", "/items/r2", body={"colour": "green", "version": 1})
    response = api.request("PUT", "/items/r2", body={"colour": "blue", "version": 1})
    assert_error(response, 409, "VersionConflict")
    assert api.request("GET", "/items/r2").json == {"id": "r2", "colour": "green", "version": 2}


def test_replace_of_a_missing_item_is_a_404(api):
    assert_error(api.request("PUT", "/items/ghost", body={"version": 1}), 404, "ItemNotFound")


@pytest.mark.parametrize("version_literal", ["1.0", "1e0", "0.1e1"])
def test_a_whole_number_version_is_that_version_as_json_schema_2020_12_reads_it(api, version_literal):
    """schemathesis found {"version": 1242.0} valid by the document (3.0 is an integer in JSON Schema
    2020-12, and to a JavaScript client) and refused; the function, the model and the document now agree."""
    api.request("POST", "/items", body={"id": "whole"})
    replaced = api.request("PUT", "/items/whole", body='{"version": %s}' % version_literal)
    assert replaced.status == 200 and replaced.json["version"] == 2
    assert api.request("DELETE", "/items/whole", query="version=2.0").status == 204


@pytest.mark.parametrize("version", [None, "1", 0, -1, 1.5, True, 2**64])
def test_replace_requires_a_positive_integer_version(api, version):
    api.request("POST", "/items", body={"id": "r3"})
    body = {"a": 1} if version is None else {"a": 1, "version": version}
    assert_error(api.request("PUT", "/items/r3", body=body), 400, "InvalidRequest")


def test_replace_cannot_change_the_id(api):
    api.request("POST", "/items", body={"id": "r4"})
    assert_error(api.request("PUT", "/items/r4", body={"id": "other", "version": 1}), 400, "InvalidRequest")
    assert api.request("GET", "/items/other").status == 404


# DELETE /items/{id} ----------------------------------------------------------------------------------------------


def test_delete_returns_204_then_404(api):
    api.request("POST", "/items", body={"id": "d1"})
    response = api.request("DELETE", "/items/d1")
    assert response.status == 204 and response.raw["body"] == ""
    assert_error(api.request("DELETE", "/items/d1"), 404, "ItemNotFound")
    assert_error(api.request("GET", "/items/d1"), 404, "ItemNotFound")


# Routing ---------------------------------------------------------------------------------------------------------


def test_the_function_routes_by_resource_and_method_through_the_documents_operations(function, stage):
    """OPERATIONS (written by the stack from the document) maps each resource and method to its operation."""
    assert set(function.routes) == contract.operations()
    assert set(function.routes.values()) == set(contract.operation_ids().values())
    event = proxy_event("GET", "/items", "/items", stage=stage)
    assert function.handle(event, None)["statusCode"] == 200


@pytest.mark.parametrize(
    ("method", "resource"),
    [
        ("TRACE", "/items/{id}"),
        ("GET", "/orders"),
        ("DELETE", "/items"),
        ("get", "/items"),
        (None, "/items"),
        ("GET", 7),
    ],
)
def test_a_resource_and_method_the_api_does_not_define_is_a_404(function, stage, method, resource):
    event = proxy_event("GET", "/items", "/items", stage=stage)
    event["httpMethod"], event["resource"] = method, resource
    response = function.handle(event, None)
    assert response["statusCode"] == 404 and json.loads(response["body"])["error"]["code"] == "OperationNotFound"


def test_an_operations_table_naming_an_operation_the_function_lacks_fails_at_start(handler_module, function):
    with pytest.raises(ValueError, match="updateItem"):
        handler_module.ItemsFunction(function.items, {("/items/{id}", "PATCH"): "updateItem"})


# Logs ------------------------------------------------------------------------------------------------------------


def test_one_structured_log_line_per_request_without_bodies(api, caplog):
    secret_value = "do-not-log-this-value"
    with caplog.at_level(logging.INFO, logger="items"):
        api.request("POST", "/items", body={"id": "logged", "note": secret_value})
        api.request("PUT", "/items/logged", body={"note": secret_value, "version": 1})
    records = [r for r in caplog.records if r.name == "items"]
    assert [(r.method, r.resource, r.status) for r in records] == [
        ("POST", "/items", 201),
        ("PUT", "/items/{id}", 200),
    ]
    assert all(r.request_id and r.duration_ms >= 0 for r in records)
    for record in caplog.records:
        assert secret_value not in record.getMessage() and secret_value not in str(record.__dict__)


def test_location_uses_the_stage_the_request_came_through(function):
    from conftest import ApiClient

    response = ApiClient(function, "v2").request("POST", "/items", body={"id": "staged"})
    assert response.status == 201 and response.headers["Location"] == "/v2/items/staged"


def test_location_of_a_post_to_the_collection_with_a_trailing_slash_has_one_slash(api):
    event = proxy_event("POST", "/items", "/items/", body=json.dumps({"id": "slashed"}), stage=api.stage)
    response = Response(api._handle(event, None))
    assert response.status == 201 and response.headers["Location"] == f"/{api.stage}/items/slashed"


def test_lambdas_entry_point_serves_the_environments_table(handler_module, stage):
    """handler() as Lambda calls it: the execution environment's one function, built from os.environ at import."""
    item_id = f"entry-{uuid.uuid4().hex[:8]}"
    created = handler_module.handler(
        proxy_event("POST", "/items", "/items", body=json.dumps({"id": item_id}), stage=stage), None
    )
    assert created["statusCode"] == 201
    read = handler_module.handler(
        proxy_event("GET", "/items/{id}", f"/items/{item_id}", path_parameters={"id": item_id}, stage=stage), None
    )
    assert json.loads(read["body"]) == {"id": item_id, "version": 1}
    assert handler_module._function.items.table_name == os.environ["TABLE_NAME"]


def test_every_read_of_an_item_is_strongly_consistent(api, dynamodb_calls):
    """The contract's GET is a strongly consistent read, and so is the read before an unconditional delete (moto
    is always consistent, so only the request shows it)."""
    api.request("POST", "/items", body={"id": "consistent"})
    api.request("GET", "/items/consistent")
    api.request("DELETE", "/items/consistent")
    reads = [call["params"] for call in dynamodb_calls if call["operation"] == "GetItem"]
    assert len(reads) == 2 and all(read["ConsistentRead"] is True for read in reads)
