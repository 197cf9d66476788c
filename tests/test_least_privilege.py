"""The function role's DynamoDB grant equals the DynamoDB API calls the handler really makes: no more, no less.

The calls are recorded with a botocore event hook on the handler's own client, across this test's full
round of every route (and across the whole session when the handler tests ran before it).
"""


def granted_table_actions(synth) -> set[str]:
    function_id = next(k for k in synth.resources_of_type("AWS::Lambda::Function") if k.startswith("ItemsFunction"))
    role_id = synth.resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in synth.resources[role_id]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    return {a for s in statements for a in s["Action"] if a.startswith("dynamodb:")}


def exercise_every_route(api) -> None:
    created = api.request("POST", "/items", body={"n": 1}).json
    api.request("POST", "/items", body={"id": created["id"]})
    api.request("GET", f"/items/{created['id']}")
    api.request("GET", "/items/missing")
    api.request("GET", "/items", query="limit=1")
    api.request("PUT", f"/items/{created['id']}", body={"n": 2, "version": 1})
    api.request("PUT", f"/items/{created['id']}", body={"n": 3, "version": 1})
    api.request("PUT", "/items/missing", body={"version": 1})
    api.request("DELETE", f"/items/{created['id']}")
    api.request("DELETE", "/items/missing")


def test_handler_calls_exactly_the_dynamodb_actions_the_role_grants(api, dynamodb_calls, synth):
    exercise_every_route(api)
    called = {f"dynamodb:{call['operation']}" for call in dynamodb_calls}
    assert called == granted_table_actions(synth)
