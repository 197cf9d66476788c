"""The function against a reference model (tests/model_clients.py): clients interleaving every operation through
the handler in process, against the local DynamoDB server over HTTP, and through the local API over HTTP.

The gate runs a fixed, derandomized budget with extreme items of 1/16 of the largest body (the growth bound
makes them prove what the largest would show); `-e fuzz` runs as many fresh random examples, with the largest
items through the handler (moto takes seconds per request on a list of 60,000 numbers, so the count stays)."""

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.config import Config
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import limits
from api import contract
from conftest import items_function_spec, items_table, local_api_definition, proxy_event, route_of
from localdev.api import LocalApi
from localdev.sigv4 import LocalCredentials, sign
from model_clients import Answer, ItemsMachine, Transport

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
EXTREME_BYTES = 400_000 - 400 if FUZZ else limits.DYNAMODB_ITEM_BYTES // 16


def budget(examples: int, steps: int) -> settings:
    return settings(settings(), max_examples=examples, stateful_step_count=steps)


class HandlerTransport(Transport):
    """Proxy events as API Gateway's REST integration builds them, path parameters still percent-encoded."""

    def __init__(self, function, stage: str, dynamodb):
        self._function = function
        self._stage = stage
        self._dynamodb = dynamodb

    def close(self):
        self._dynamodb.delete_table(TableName=self._function.items.table_name)

    def request(self, method, path, *, query="", body=None):
        resource, parameters = route_of(path)
        event = proxy_event(
            method, resource, path, path_parameters=parameters, query_string=query, body=body, stage=self._stage
        )
        response = self._function.handle(event, None)
        # What Lambda's runtime sends back: the response object as JSON (ASCII escapes, its larger encoding).
        return Answer(response["statusCode"], response["body"], len(json.dumps(response)))


class HttpTransport(Transport):
    """Real HTTP to the local API, SigV4-signed with the local credentials."""

    def __init__(self, url: str):
        self._url = url.rstrip("/")

    def request(self, method, path, *, query="", body=None):
        url = f"{self._url}{path}" + (f"?{query}" if query else "")
        data = body.encode() if body is not None else None
        headers = sign(LocalCredentials(), method, url, {"Content-Type": "application/json"}, data or b"")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=60) as reply:
                return Answer(reply.status, reply.read().decode(), None)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode(), None)


def test_clients_interleaving_through_the_handler_agree_with_the_model(handler_module, local_dynamodb, synth, stage):
    from dynamodb_client import create_client

    # The shipped configuration, but a longer read timeout: moto takes seconds for a list of 60,000 numbers.
    client = create_client(
        handler_module.CLIENT_CONFIG.merge(Config(read_timeout=30)), endpoint_url=local_dynamodb.endpoint_url
    )

    def transport():
        api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, uuid.uuid4().hex[:12])
        spec = items_function_spec(api)
        function = handler_module.ItemsFunction.from_environment(spec.environment, client)
        return HandlerTransport(function, stage, local_dynamodb.client())

    machine = type(
        "HandlerMachine",
        (ItemsMachine,),
        {"transport_factory": staticmethod(transport), "extreme_bytes": EXTREME_BYTES},
    )
    run_state_machine_as_test(machine, settings=budget(examples=30, steps=25))


@pytest.fixture(scope="module")
def local_api_server(synth, local_dynamodb):
    """One local API; each example of the machine gets empty tables by deleting what the last one left."""
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "model-http")
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, contract=contract.load())
    yield server.start(), local_dynamodb.client(), [items_table(api)]
    server.stop()


def test_clients_interleaving_over_http_through_the_local_api_agree_with_the_model(local_api_server):
    server, dynamodb, [table] = local_api_server

    def transport():
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="id"):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
        return HttpTransport(server.url)

    # The largest items only in process: the local API's workers keep the shipped 2 s read timeout, which moto
    # exceeds on a list of 60,000 numbers (a 502 that DynamoDB would not cause).
    machine = type("HttpMachine", (ItemsMachine,), {"transport_factory": staticmethod(transport)})
    run_state_machine_as_test(machine, settings=budget(examples=8, steps=15))
