"""Requests a hostile client can send and pages the table can hold: each is a 4xx or a response Lambda can
return, never a raised error (which API Gateway answers with 502 and the error-rate alarm counts).

Each class of hostile input has its examples here; tests/test_handler_properties.py searches the whole space.
"""

import base64
import json
from decimal import Decimal

import boto3
import pytest
from urllib.parse import quote
from hypothesis import given
from hypothesis import strategies as st

from conftest import Response, proxy_event
from model_clients import EXTREME_ITEMS, RESPONSE_OVERHEAD, WORST_GROWTH
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
        "[" * 3000,  # this, base64-encoded, recursed in the old token decoder (a 502)
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


def test_the_issues_item_is_answered_within_lambdas_limit_and_its_numbers_as_written(api):
    """50,000 copies of 1e125 (300 KB sent): a 126-digit integer each would make a 6.4 MB answer (a 502 after
    the write, for the create and every later read)."""
    import limits

    body = '{"id": "g0", "a": [%s]}' % ",".join(["1e125"] * 50_000)
    created = api.request("POST", "/items", body=body)
    assert created.status == 201 and len(json.dumps(created.raw)) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES
    assert created.raw["body"].count("1E+125") == 50_000
    assert json.loads(created.raw["body"], parse_float=Decimal)["a"][0] == Decimal("1E+125")


@pytest.mark.parametrize(
    ("literal", "written"),
    [
        ("1e20", "100000000000000000000"),
        ("-99999999999999999999", "-99999999999999999999"),
        ("1e21", "1E+21"),
        ("-1e21", "-1E+21"),
        ("12300000000000000000000", "1.23E+22"),
        ("1E+125", "1E+125"),
        ("9.9999999999999999999999999999999999999E+125", "9.9999999999999999999999999999999999999E+125"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("12345678901234567890123456789012345670", "12345678901234567890123456789012345670"),
        ("1234567890123456700000", "1234567890123456700000"),
        ("12345678901234567000000", "1.2345678901234567E+22"),
        ("1" + "0" * 38, "1E+38"),
        ("0e5", "0"),
        ("-0", "0"),
        ("1.5", "1.5"),
        ("1E-130", "1e-130"),
        ("100", "100"),
    ],
)
def test_a_number_comes_back_in_a_form_no_longer_than_needed(api, literal, written):
    """Integers below 1e21 plain (as JSON.stringify writes them), and larger ones too unless the exponent form is
    shorter (a tie stays plain); fractions as the shortest text of their double. Every form is exact."""
    created = api.request("POST", "/items", body='{"n": %s}' % literal)
    assert created.status == 201
    assert f'"n": {written},' in api.request("GET", f"/items/{created.json['id']}").raw["body"]


def test_an_item_with_a_large_number_keeps_its_text_as_written_beside_it(api):
    """The writer that gives 1E+125 its exponent form writes keys and strings as json.dumps does (non-ASCII as is)."""
    created = api.request("POST", "/items", body='{"id": "mixed", "é😀": ["é😀\\u0001", 1E+125]}')
    assert created.raw["body"] == '{"id": "mixed", "é😀": ["é😀\\u0001", 1E+125], "version": 1}'


@pytest.mark.parametrize("shape", sorted(EXTREME_ITEMS))
def test_the_largest_item_of_each_shape_fits_one_response_with_room_to_spare(handler_module, shape):
    """Rendered as the function renders what DynamoDB gives back (no server: the conversion both ways)."""
    import attributes
    import limits
    import validation

    body = '{"id": "%s", "value": %s}' % ("Z" * limits.ID_MAX_LENGTH, EXTREME_ITEMS[shape])
    item = attributes.from_item(
        attributes.to_item({**validation.parse_body(body, False), "version": limits.VERSION_MAX})
    )
    payload = len(json.dumps(handler_module._response(200, {"items": [item], "next": item["id"]}, {})))
    assert payload <= WORST_GROWTH * len(body.encode()) + RESPONSE_OVERHEAD <= limits.LAMBDA_SYNC_PAYLOAD_BYTES


def _fits(handler_module, items) -> bool:
    import limits

    page = handler_module._page(items, items[-1]["id"] if items else None)
    return len(json.dumps(handler_module._response(200, page, {}))) <= limits.LAMBDA_SYNC_PAYLOAD_BYTES


@pytest.mark.parametrize("overshoot", [-300, -40, -1, 0, 1, 40, 300])
def test_a_cut_page_keeps_the_longest_prefix_that_fits_to_the_byte(handler_module, overshoot):
    """Items with 128-character ids (the longest `next`), the 1001st ending `overshoot` bytes past the limit:
    the page keeps exactly the prefix whose real response fits, counting envelope, separators and `next`."""
    import limits

    def item(index: int, blob: int) -> dict:
        return {"id": f"{index:0{limits.ID_MAX_LENGTH}d}", "blob": "\x01" * blob, "version": 1}

    first = [item(index, 250_000 if index < 3 else 10) for index in range(1000)]  # separators count
    filler = limits.LAMBDA_SYNC_PAYLOAD_BYTES - len(
        json.dumps(
            handler_module._response(200, handler_module._page([*first, item(1000, 0)], "x" * limits.ID_MAX_LENGTH), {})
        )
    )
    items = [*first, item(1000, filler // 7 + overshoot // 7), *[item(index, 10) for index in range(1001, 1005)]]
    page = handler_module._page_within_payload_limit(items, "after-all")
    kept = len(page["items"])
    assert page["items"] == items[:kept] and page["next"] == items[kept - 1]["id"]
    assert _fits(handler_module, items[:kept]) and not _fits(handler_module, items[: kept + 1])


def test_an_item_that_fits_no_response_is_raised_never_an_empty_page_that_skips(handler_module):
    import limits

    alone = {"id": "huge", "blob": "\x01" * limits.LAMBDA_SYNC_PAYLOAD_BYTES, "version": 1}
    with pytest.raises(RuntimeError, match="huge"):
        handler_module._page_within_payload_limit([alone, {"id": "small", "version": 1}], "small")


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
    predicted += len(handler_module.json_text.ITEM_SEPARATOR) * max(len(items) - 1, 0)
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


@pytest.mark.parametrize(
    "query",
    [
        "version=0",
        "version=-1",
        "version=1.5",
        "version=abc",
        "version=",
        "version=9007199254740992",
        "version=01",
        "force=true",
    ],
)
def test_a_delete_with_a_bad_version_or_parameter_is_a_400_and_deletes_nothing(api, query):
    api.request("POST", "/items", body={"id": "kept"})
    assert_error(api.request("DELETE", "/items/kept", query=query), 400, "InvalidRequest")
    assert api.request("GET", "/items/kept").status == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/items/q", None), ("PUT", "/items/q", {"version": 1}), ("POST", "/items", {"id": "q2"})],
)
def test_operations_without_query_parameters_refuse_any(api, method, path, body):
    api.request("POST", "/items", body={"id": "q"})
    assert_error(api.request(method, path, body=body, query="version=1"), 400, "InvalidRequest")


# Bodies are UTF-8 JSON (RFC 8259, section 8.1) ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16", "utf-32"])
def test_json_in_another_unicode_encoding_is_a_400_not_stored(api, encoding):
    """json.loads on bytes guesses UTF-16 and UTF-32 from the NUL bytes; JSON between systems is UTF-8 only, and
    API Gateway's validator reads such a text body as UTF-8 (a string of NULs, not an object)."""
    encoded = json.dumps({"id": "u16", "n": 1}).encode(encoding)
    sent = [(base64.b64encode(encoded).decode(), True)]
    if not encoded.startswith((b"\xff", b"\xfe")):  # without a byte-order mark, the bytes are also valid UTF-8 text
        sent.append((encoded.decode(), False))
    for body, is_base64 in sent:
        event = dict(proxy_event("POST", "/items", "/items", body=body, stage=api.stage), isBase64Encoded=is_base64)
        response = Response(api._handle(event, None))
        assert_error(response, 400, "InvalidRequest")
        assert "UTF-8" in response.json["error"]["message"]
    assert_error(api.request("GET", "/items/u16"), 404, "ItemNotFound")


def test_a_base64_encoded_utf8_body_is_read_as_its_json(api):
    body = json.dumps({"id": "b64", "name": "é"}).encode()
    event = dict(
        proxy_event("POST", "/items", "/items", body=base64.b64encode(body).decode(), stage=api.stage),
        isBase64Encoded=True,
    )
    assert Response(api._handle(event, None)).status == 201
    assert api.request("GET", "/items/b64").json == {"id": "b64", "name": "é", "version": 1}


def test_a_base64_body_that_is_not_utf8_is_a_400(api):
    event = dict(
        proxy_event("POST", "/items", "/items", body=base64.b64encode(b'{"id": "\xff"}').decode(), stage=api.stage),
        isBase64Encoded=True,
    )
    assert_error(Response(api._handle(event, None)), 400, "InvalidRequest")


# Path ids as API Gateway's REST proxy passes them: still percent-encoded ---------------------------------------


def _with_encoded_id(api, method: str, encoded_id: str, body=None, query: str = ""):
    """The event of a request for /items/<encoded_id>: REST APIs hand the function pathParameters as sent, still
    percent-encoded (serverless/serverless#5037; hotsock/voker#8)."""
    event = proxy_event(
        method,
        "/items/{id}",
        f"/items/{encoded_id}",
        path_parameters={"id": encoded_id},
        query_string=query,
        body=json.dumps(body) if body is not None else None,
        stage=api.stage,
    )
    event["pathParameters"] = {"id": encoded_id}
    return Response(api._handle(event, None))


@pytest.mark.parametrize("item_id", ["ns:1", "a:b:c", "A-z_0.9"])
def test_an_id_percent_encoded_by_the_client_reaches_its_item_on_every_operation(api, item_id):
    encoded = quote(item_id, safe="")  # what RFC 6570 {id} expansion and encodeURIComponent send
    assert api.request("POST", "/items", body={"id": item_id, "n": 1}).status == 201
    assert _with_encoded_id(api, "GET", encoded).json == {"id": item_id, "n": 1, "version": 1}
    replaced = _with_encoded_id(api, "PUT", encoded, body={"n": 2, "version": 1})
    assert replaced.status == 200 and replaced.json["id"] == item_id
    assert _with_encoded_id(api, "DELETE", encoded, query="version=2").status == 204
    assert_error(api.request("GET", f"/items/{item_id}"), 404, "ItemNotFound")


@pytest.mark.parametrize(
    "encoded",
    ["%2E", "%2e%2E", "ns%253A1", "%FF", "%C3%A9", "a%2Fb", "a%20b", "%", "%3", "%G1"],
    ids=["dot", "dot-dot", "double-encoded", "not-utf8", "non-ascii", "slash", "space", "lone-%", "short-%", "bad-hex"],
)
def test_a_path_id_is_decoded_exactly_once_and_then_checked_as_an_id(api, encoded):
    for method, body in (("GET", None), ("PUT", {"version": 1}), ("DELETE", None)):
        assert_error(_with_encoded_id(api, method, encoded, body=body), 400, "InvalidRequest")


def test_a_percent_encoded_unreserved_character_is_the_character(api):
    api.request("POST", "/items", body={"id": "A"})
    assert _with_encoded_id(api, "GET", "%41").json["id"] == "A"


# Versions never repeat for an id, across delete and re-create ------------------------------------------------


def test_a_write_conditioned_on_a_read_from_before_a_delete_and_re_create_is_a_409(api):
    """Alice reads x at version 1; Bob deletes x and creates it again. Alice's stale replace and delete must not
    land on Bob's item (an ABA: with versions restarting at 1, both did)."""
    assert api.request("POST", "/items", body={"id": "aba", "owner": "alice"}).json["version"] == 1
    assert api.request("DELETE", "/items/aba").status == 204
    recreated = api.request("POST", "/items", body={"id": "aba", "owner": "bob"})
    assert recreated.status == 201 and recreated.json["version"] == 2
    assert_error(api.request("PUT", "/items/aba", body={"owner": "alice", "version": 1}), 409, "VersionConflict")
    assert_error(api.request("DELETE", "/items/aba", query="version=1"), 409, "VersionConflict")
    assert api.request("GET", "/items/aba").json == {"id": "aba", "owner": "bob", "version": 2}


def test_a_deleted_item_keeps_only_its_id_and_last_version_and_is_gone_to_every_operation(
    api, fresh_table, local_dynamodb
):
    api.request("POST", "/items", body={"id": "gone", "secret": "s"})
    api.request("PUT", "/items/gone", body={"secret": "t", "version": 1})
    assert api.request("DELETE", "/items/gone", query="version=2").status == 204
    stored = local_dynamodb.client().get_item(TableName=fresh_table, Key={"id": {"S": "gone"}})["Item"]
    assert set(stored) == {"id", "deleted_version"} and stored["deleted_version"] == {"N": "2"}
    assert_error(api.request("GET", "/items/gone"), 404, "ItemNotFound")
    assert_error(api.request("PUT", "/items/gone", body={"version": 2}), 404, "ItemNotFound")
    assert_error(api.request("DELETE", "/items/gone"), 404, "ItemNotFound")
    assert_error(api.request("DELETE", "/items/gone", query="version=2"), 404, "ItemNotFound")
    assert api.request("GET", "/items").json == {"items": []}
    assert api.request("POST", "/items", body={"id": "gone"}).json["version"] == 3


def test_a_live_item_may_carry_an_attribute_named_like_the_tombstones_marker(api):
    api.request("POST", "/items", body={"id": "named", "deleted_version": 1})
    assert_error(api.request("POST", "/items", body={"id": "named"}), 409, "ItemAlreadyExists")
    assert api.request("GET", "/items/named").json == {"id": "named", "deleted_version": 1, "version": 1}


@pytest.fixture
def before_each_put(shipped_client):
    """Runs `interfere(attempt)` before each PutItem the function sends: another writer, between two requests."""
    hooks = []

    def install(interfere):
        attempts = []

        def hook(**_):
            attempts.append(1)
            interfere(len(attempts))

        shipped_client.meta.events.register("before-call.dynamodb.PutItem", hook)
        hooks.append(hook)
        return attempts

    yield install
    for hook in hooks:
        shipped_client.meta.events.unregister("before-call.dynamodb.PutItem", hook)


def _write(local_dynamodb, table: str, item_id: str, **attributes: int) -> None:
    item = {"id": {"S": item_id}, **{name: {"N": str(value)} for name, value in attributes.items()}}
    local_dynamodb.client().put_item(TableName=table, Item=item)


def test_a_re_create_that_loses_to_another_create_and_delete_continues_after_their_version(
    api, fresh_table, local_dynamodb, before_each_put
):
    api.request("POST", "/items", body={"id": "churn"})
    api.request("DELETE", "/items/churn")
    attempts = before_each_put(lambda n: n == 2 and _write(local_dynamodb, fresh_table, "churn", deleted_version=2))
    created = api.request("POST", "/items", body={"id": "churn"})
    assert created.status == 201 and created.json["version"] == 3 and len(attempts) == 3


def test_a_create_that_keeps_losing_to_other_creates_is_a_409_never_a_repeated_version(
    api, fresh_table, local_dynamodb, before_each_put
):
    import repository

    api.request("POST", "/items", body={"id": "busy"})
    api.request("DELETE", "/items/busy")
    attempts = before_each_put(lambda n: _write(local_dynamodb, fresh_table, "busy", deleted_version=n + 1))
    refused = api.request("POST", "/items", body={"id": "busy"})
    assert_error(refused, 409, "ItemAlreadyExists")
    assert refused.json["error"]["message"] == "item busy was created by another request meanwhile"
    assert len(attempts) == repository.WRITE_ATTEMPTS


def test_an_unconditional_delete_raced_by_a_replace_deletes_the_version_that_replace_left(
    api, fresh_table, local_dynamodb, before_each_put
):
    api.request("POST", "/items", body={"id": "raced"})
    before_each_put(lambda n: n == 1 and _write(local_dynamodb, fresh_table, "raced", version=2))
    assert api.request("DELETE", "/items/raced").status == 204
    assert api.request("POST", "/items", body={"id": "raced"}).json["version"] == 3


def test_an_unconditional_delete_raced_by_another_delete_is_a_404(api, fresh_table, local_dynamodb, before_each_put):
    api.request("POST", "/items", body={"id": "twice"})
    before_each_put(lambda n: _write(local_dynamodb, fresh_table, "twice", deleted_version=1))
    assert_error(api.request("DELETE", "/items/twice"), 404, "ItemNotFound")


def test_an_unconditional_delete_of_an_item_that_keeps_changing_is_a_409(
    api, fresh_table, local_dynamodb, before_each_put
):
    import repository

    api.request("POST", "/items", body={"id": "hot"})
    attempts = before_each_put(lambda n: _write(local_dynamodb, fresh_table, "hot", version=n + 1))
    refused = api.request("DELETE", "/items/hot")
    assert_error(refused, 409, "VersionConflict")
    assert refused.json["error"]["message"] == "item hot kept changing while it was deleted; retry"
    assert len(attempts) == repository.WRITE_ATTEMPTS


def test_a_tombstone_removed_behind_the_functions_back_is_raised_for_the_alarm(
    api, fresh_table, local_dynamodb, before_each_put
):
    """Nothing in the function removes a tombstone; if something else does mid-create, the versions it guarded
    are lost, so the create fails loudly (a 502 the alarm counts) rather than restarting at 1."""
    from botocore.exceptions import ClientError

    api.request("POST", "/items", body={"id": "purged"})
    api.request("DELETE", "/items/purged")
    client = local_dynamodb.client()
    before_each_put(lambda n: n == 2 and client.delete_item(TableName=fresh_table, Key={"id": {"S": "purged"}}))
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        api.request("POST", "/items", body={"id": "purged"})


def test_every_refusal_of_a_write_names_the_item_and_the_versions_involved(api, fresh_table, local_dynamodb):
    api.request("POST", "/items", body={"id": "named-1"})
    api.request("PUT", "/items/named-1", body={"version": 1})
    messages = {
        "exists": api.request("POST", "/items", body={"id": "named-1"}),
        "stale replace": api.request("PUT", "/items/named-1", body={"version": 1}),
        "stale delete": api.request("DELETE", "/items/named-1", query="version=1"),
        "missing get": api.request("GET", "/items/named-0"),
        "missing replace": api.request("PUT", "/items/named-0", body={"version": 1}),
        "missing delete": api.request("DELETE", "/items/named-0", query="version=1"),
    }
    assert {name: answer.json["error"]["message"] for name, answer in messages.items()} == {
        "exists": "item named-1 already exists",
        "stale replace": "item named-1 is at version 2, not 1; read it and retry",
        "stale delete": "item named-1 is at version 2, not 1; read it and retry",
        "missing get": "item named-0 does not exist",
        "missing replace": "item named-0 does not exist",
        "missing delete": "item named-0 does not exist",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "is_base64", "message"),
    [
        ("POST", "/items", "", "", False, "request body must be a JSON object"),
        ("POST", "/items", "[1]", "", False, "request body must be a JSON object"),
        ("POST", "/items", "{", "", False, "request body is not valid JSON"),
        ("POST", "/items", "not base64!", "", True, "request body is not valid base64"),
        ("POST", "/items", '{"": 1}', "", False, "attribute names must not be empty"),
        ("POST", "/items", '{"s": "\\ud800"}', "", False, "strings must be valid Unicode (no lone surrogates)"),
        (
            "POST",
            "/items",
            '{"f": 0.1000000000000000000001}',
            "",
            False,
            "fractional numbers must be exactly representable as a double",
        ),
        (
            "POST",
            "/items",
            '{"version": 1}',
            "",
            False,
            "version is set by the server; leave it out when creating an item",
        ),
        ("PUT", "/items/a", '{"id": "b", "version": 1}', "", False, "id in the body must match the id in the path"),
        ("GET", "/items", None, "zeta=1&alpha=2", False, "unknown query parameter(s): alpha, zeta"),
        ("POST", "/items", '{"a": ' * 33 + "1" + "}" * 33, "", False, "item nests deeper than 32 levels"),
        ("POST", "/items", '{"a": ' + "[" * 32 + "1" + "]" * 32 + "}", "", False, "item nests deeper than 32 levels"),
    ],
)
def test_each_refusal_says_what_is_wrong_in_its_own_words(api, method, path, body, query, is_base64, message):
    resource, parameters = ("/items/{id}", {"id": path.rsplit("/", 1)[1]}) if path.count("/") == 2 else (path, {})
    event = proxy_event(
        method, resource, path, path_parameters=parameters, query_string=query, body=body, stage=api.stage
    )
    event["body"], event["isBase64Encoded"] = body, is_base64
    response = Response(api._handle(event, None))
    assert response.status == 400 and response.json["error"]["message"] == message


def test_a_query_number_of_32_characters_is_read_and_one_of_33_refused(api):
    """Query numbers are bounded before Decimal sees them: 32 characters at most."""
    assert api.request("GET", "/items", query="limit=1." + "0" * 30).status == 200
    assert_error(api.request("GET", "/items", query="limit=1." + "0" * 31), 400, "InvalidRequest")


def test_a_body_of_exactly_400_kb_is_read_and_one_byte_more_is_a_413(handler_module):
    import limits
    import validation
    from errors import ItemTooLarge

    padding = limits.DYNAMODB_ITEM_BYTES - len('{"s": ""}')
    assert validation.parse_body('{"s": "%s"}' % ("x" * padding), False) == {"s": "x" * padding}
    with pytest.raises(ItemTooLarge):
        validation.parse_body('{"s": "%s"}' % ("x" * (padding + 1)), False)


def test_a_query_number_beyond_decimal_says_what_is_allowed(api):
    refused = api.request("GET", "/items", query="limit=1e9999999999999999999999999999")
    assert_error(refused, 400, "InvalidRequest")
    assert refused.json["error"]["message"] == "limit must be an integer from 1 to 100"


def test_non_ascii_text_is_sent_as_is_not_escaped(api):
    created = api.request("POST", "/items", body={"id": "plain", "é": "😀"})
    assert created.raw["body"] == '{"id": "plain", "é": "😀", "version": 1}'


def test_a_page_whose_response_is_exactly_the_limit_is_not_cut(handler_module):
    import limits

    items = [{"id": "a", "blob": "", "version": 1}]
    size = len(json.dumps(handler_module._response(200, handler_module._page(items, None), {})))
    items[0]["blob"] = "x" * (limits.LAMBDA_SYNC_PAYLOAD_BYTES - size)
    page = handler_module._page_within_payload_limit(items, None)
    assert page == {"items": items}
