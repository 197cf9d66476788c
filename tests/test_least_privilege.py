"""Each function's role grants exactly the DynamoDB (action, resource) pairs its code calls: no more, no less.

A pair, not an action name: a Query granted on the table does not cover the table's index, and a write granted
on one table does not cover another (cfn/grants.py). The calls are recorded with a botocore event hook on the
handler's own client during this test only, while it exercises every operation of the contract itself (each
with its success and its failure paths), so the proof holds when run alone, in any order, and when an operation
is added: an operation the exercise does not cover fails the test before any grant is compared, and so does an
application function that no exercise reaches.
"""

from api import contract
from conftest import ITEMS_HANDLER
from cfn.grants import call_target, function_grants, mismatches, table_names
from cfn.template import Template, statement_actions

# Each operation of the document, as requests that reach its success and its refusal paths.
EXERCISES = {
    "createItem": lambda api, known: [
        api.request("POST", "/items", body={"id": known}),
        api.request("POST", "/items", body={"id": known}),
    ],
    "getItem": lambda api, known: [api.request("GET", f"/items/{known}"), api.request("GET", "/items/missing")],
    "listItems": lambda api, known: [api.request("GET", "/items", query="limit=1")],
    "replaceItem": lambda api, known: [
        api.request("PUT", f"/items/{known}", body={"n": 2, "version": 1}),
        api.request("PUT", f"/items/{known}", body={"n": 3, "version": 1}),
        api.request("PUT", "/items/missing", body={"version": 1}),
    ],
    "deleteItem": lambda api, known: [
        api.request("DELETE", f"/items/{known}", query="version=1"),
        api.request("DELETE", f"/items/{known}"),
        api.request("DELETE", "/items/missing"),
    ],
}


def test_the_exercise_covers_every_operation_of_the_contract():
    assert set(EXERCISES) == set(contract.operation_ids().values())


# The handlers whose calls a test here records. A function with another handler needs its exercise first.
EXERCISED_HANDLERS = {ITEMS_HANDLER}


def test_every_application_function_is_exercised(synth):
    """The exercise drives lambda/handler.py behind every route of the API. A function added with another
    handler (fed by a stream, a schedule) fails here until it has an exercise that records its calls."""
    handlers = {
        function_id: function["Properties"]["Handler"]
        for function_id, function in Template(synth.template_json).application_functions().items()
    }
    assert not {f: h for f, h in handlers.items() if h not in EXERCISED_HANDLERS}, "add an exercise for these"
    assert {route.function_id for route in _routes(synth)} <= set(handlers)


def test_each_function_calls_exactly_the_dynamodb_pairs_its_role_grants(api, dynamodb_calls, function_spec, synth):
    template = Template(synth.template_json)
    for exercise in EXERCISES.values():
        exercise(api, "least-privilege")
    tables = table_names(template, function_spec.logical_id, function_spec.environment)
    called = {(f"dynamodb:{call['operation']}", call_target(call["params"], tables)) for call in dynamodb_calls}
    assert called, "the exercise made no DynamoDB call"
    assert not mismatches(function_grants(template, function_spec.logical_id, "dynamodb:"), called)


def test_a_single_action_statement_is_read_as_a_list():
    assert statement_actions({"Action": "dynamodb:GetItem"}) == ["dynamodb:GetItem"]
    assert statement_actions({"Action": ["dynamodb:GetItem"]}) == ["dynamodb:GetItem"]


def _routes(synth):
    from localdev.template import read_api

    table_ids = {logical_id: logical_id for logical_id in Template(synth.template_json).of_type("AWS::DynamoDB::Table")}
    return read_api(synth.template_json, synth.outdir, table_ids).routes
