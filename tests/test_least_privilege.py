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


def record_items_function(request) -> tuple[str, set[tuple[str, str]]]:
    """lambda/handler.py through every operation of the contract: its logical id and the pairs it called."""
    api, dynamodb_calls, spec, synth = (
        request.getfixturevalue(name) for name in ("api", "dynamodb_calls", "function_spec", "synth")
    )
    for exercise in EXERCISES.values():
        exercise(api, "least-privilege")
    tables = table_names(Template(synth.template_json), spec.logical_id, spec.environment)
    return spec.logical_id, {(f"dynamodb:{c['operation']}", call_target(c["params"], tables)) for c in dynamodb_calls}


# Each handler's recorder: it runs the handler's real code and returns the (action, resource) pairs it called.
# A function with a handler missing here fails the proof below until it has one (a stream-fed function: invoke
# its handler with a stream event on local tables, and add the pairs Lambda's poller uses with its role).
RECORDERS = {ITEMS_HANDLER: record_items_function}


def test_every_function_calls_exactly_the_dynamodb_pairs_its_role_grants(request, synth):
    template = Template(synth.template_json)
    handlers = {k: v["Properties"]["Handler"] for k, v in template.application_functions().items()}
    assert not {f: h for f, h in handlers.items() if h not in RECORDERS}, "add a recorder for these handlers"
    # A recorder drives one function: two functions with one handler would leave the second's grant unproven.
    assert len(set(handlers.values())) == len(handlers), f"one recorder per function: {handlers}"
    for handler in set(handlers.values()):
        function_id, called = RECORDERS[handler](request)
        assert called, f"{handler}: the recorder saw no DynamoDB call"
        assert handlers[function_id] == handler
        assert not mismatches(function_grants(template, function_id, "dynamodb:"), called)


def test_the_api_routes_only_to_recorded_functions(synth):
    template = Template(synth.template_json)
    handlers = {k: v["Properties"]["Handler"] for k, v in template.application_functions().items()}
    assert {handlers[route.function_id] for route in _routes(synth)} <= set(RECORDERS)


def test_a_single_action_statement_is_read_as_a_list():
    assert statement_actions({"Action": "dynamodb:GetItem"}) == ["dynamodb:GetItem"]
    assert statement_actions({"Action": ["dynamodb:GetItem"]}) == ["dynamodb:GetItem"]


def _routes(synth):
    from localdev.template import read_api

    table_ids = {logical_id: logical_id for logical_id in Template(synth.template_json).of_type("AWS::DynamoDB::Table")}
    return read_api(synth.template_json, synth.outdir, table_ids).routes
