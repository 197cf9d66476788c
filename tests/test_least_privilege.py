"""The function role's DynamoDB grant equals the DynamoDB API calls the handler really makes: no more, no less.

The calls are recorded with a botocore event hook on the handler's own client during this test only, while
it exercises every operation of the contract itself (each with its success and its failure paths), so the
proof holds when run alone, in any order, and when an operation is added: an operation the exercise does
not cover fails the test before any action is compared.
"""

from api import contract
from cfn.template import policy_statements, statement_actions

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


def granted_table_actions(synth) -> set[str]:
    function_id = next(k for k in synth.resources_of_type("AWS::Lambda::Function") if k.startswith("ItemsFunction"))
    role_id = synth.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = policy_statements(synth.resources[role_id])
    return {a for s in statements for a in statement_actions(s) if a.startswith("dynamodb:")}


def test_the_exercise_covers_every_operation_of_the_contract():
    assert set(EXERCISES) == set(contract.operation_ids().values())


def test_handler_calls_exactly_the_dynamodb_actions_the_role_grants(api, dynamodb_calls, synth):
    for exercise in EXERCISES.values():
        exercise(api, "least-privilege")
    assert {f"dynamodb:{call['operation']}" for call in dynamodb_calls} == granted_table_actions(synth)


def test_a_single_action_statement_is_read_as_a_list():
    assert statement_actions({"Action": "dynamodb:GetItem"}) == ["dynamodb:GetItem"]
    assert statement_actions({"Action": ["dynamodb:GetItem"]}) == ["dynamodb:GetItem"]
