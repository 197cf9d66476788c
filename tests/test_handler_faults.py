"""Server-side failures: the SDK retries, and what still fails is raised out of the handler.

A raised exception is what Lambda counts in the function's Errors metric (the one the stack's alarm
divides by Invocations); API Gateway then answers 502 with the stack's generic JSON 5xx body. A caught
exception turned into a 500 would never reach that metric.
"""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import ApiClient, proxy_event, items_table, local_api_definition
from fault_proxy import ThrottlingProxy
from localdev.dynamodb import LocalDynamoDB


@pytest.fixture
def behind(handler_module, function):
    """The function on `table` through `endpoint_url`, with the client it ships (botocore only, its retry and
    timeout configuration), and the list of HTTP attempts that client makes."""
    from dynamodb_client import create_client
    from repository import ItemRepository

    def build(endpoint_url: str, table: str):
        client = create_client(handler_module.CLIENT_CONFIG, endpoint_url=endpoint_url)
        attempts = []
        client.meta.events.register("before-send.dynamodb", lambda **kwargs: attempts.append(1))
        return handler_module.ItemsFunction(ItemRepository(client, table), function.routes), attempts

    return build


def test_throttling_is_retried_until_it_succeeds(function, local_dynamodb, fresh_table, behind, stage):
    ApiClient(function, stage).request("POST", "/items", body={"id": "t1"})
    with ThrottlingProxy(local_dynamodb.endpoint_url, throttle_first=2) as proxy:
        throttled, attempts = behind(proxy.endpoint_url, fresh_table)
        response = ApiClient(throttled, stage).request("GET", "/items/t1")
    assert response.status == 200 and response.json["id"] == "t1"
    assert len(attempts) == proxy.requests == 3


def test_persistent_throttling_is_raised_for_the_error_metric(
    handler_module, local_dynamodb, fresh_table, behind, stage
):
    with ThrottlingProxy(local_dynamodb.endpoint_url, throttle_first=10**6) as proxy:
        throttled, attempts = behind(proxy.endpoint_url, fresh_table)
        with pytest.raises(ClientError) as raised:
            throttled.handle(
                proxy_event("GET", "/items/{id}", "/items/t2", path_parameters={"id": "t2"}, stage=stage), None
            )
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(attempts) == proxy.requests == handler_module.MAX_ATTEMPTS


def test_dynamodb_going_away_mid_test_is_raised_after_retries(handler_module, synth, behind, stage):
    server = LocalDynamoDB().start()
    table = items_table(local_api_definition(server, synth.template_json, synth.assembly.directory, "going-away"))
    going_away, attempts = behind(server.endpoint_url, table)
    api = ApiClient(going_away, stage)
    assert api.request("POST", "/items", body={"id": "before"}).status == 201
    server.stop()
    del attempts[:]
    with pytest.raises(EndpointConnectionError):
        api.request("GET", "/items/before")
    assert len(attempts) == handler_module.MAX_ATTEMPTS
