"""Server-side failures: the SDK retries, and what still fails is raised out of the handler.

A raised exception is what Lambda counts in the function's Errors metric (the one the stack's alarm
divides by Invocations); API Gateway then answers 502 with the stack's generic JSON 5xx body. A caught
exception turned into a 500 would never reach that metric.
"""

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import ApiClient
from fault_proxy import ThrottlingProxy
from localdev.dynamodb import LocalDynamoDB
from localdev.events import proxy_event


@pytest.fixture
def repoint(handler_module, monkeypatch):
    """Points the handler's repository at another endpoint with the handler's own client configuration."""
    from repository import ItemRepository

    def to(endpoint_url: str, table: str):
        client = boto3.client("dynamodb", endpoint_url=endpoint_url, config=handler_module.CLIENT_CONFIG)
        attempts = []
        client.meta.events.register("before-send.dynamodb", lambda **kwargs: attempts.append(1))
        monkeypatch.setattr(handler_module, "_items", ItemRepository(client, table))
        return attempts

    return to


def test_throttling_is_retried_until_it_succeeds(handler_module, local_dynamodb, fresh_table, repoint, stage):
    ApiClient(handler_module, stage).request("POST", "/items", body={"id": "t1"})
    with ThrottlingProxy(local_dynamodb.endpoint_url, throttle_first=2) as proxy:
        attempts = repoint(proxy.endpoint_url, fresh_table)
        response = ApiClient(handler_module, stage).request("GET", "/items/t1")
    assert response.status == 200 and response.json["id"] == "t1"
    assert len(attempts) == proxy.requests == 3


def test_persistent_throttling_is_raised_for_the_error_metric(
    handler_module, local_dynamodb, fresh_table, repoint, stage
):
    with ThrottlingProxy(local_dynamodb.endpoint_url, throttle_first=10**6) as proxy:
        attempts = repoint(proxy.endpoint_url, fresh_table)
        with pytest.raises(ClientError) as raised:
            handler_module.handler(
                proxy_event("GET", "/items/{id}", "/items/t2", path_parameters={"id": "t2"}, stage=stage), None
            )
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(attempts) == proxy.requests == handler_module.MAX_ATTEMPTS


def test_dynamodb_going_away_mid_test_is_raised_after_retries(handler_module, synth, repoint, stage):
    server = LocalDynamoDB().start()
    table = server.create_table_from_template(synth.template_json, "items-going-away")
    attempts = repoint(server.endpoint_url, table)
    api = ApiClient(handler_module, stage)
    assert api.request("POST", "/items", body={"id": "before"}).status == 201
    server.stop()
    del attempts[:]
    with pytest.raises(EndpointConnectionError):
        api.request("GET", "/items/before")
    assert len(attempts) == handler_module.MAX_ATTEMPTS
