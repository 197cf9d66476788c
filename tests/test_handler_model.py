"""The function against a reference model: clients interleaving every operation through the handler (in process,
against the local DynamoDB server over HTTP) and through the local API over HTTP (a smaller budget)."""

import json
import uuid

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from conftest import local_api_definition, proxy_event, route_of
from model_clients import Answer, ItemsMachine, Transport


class HandlerTransport(Transport):
    """Proxy events as API Gateway's REST integration builds them, path parameters still percent-encoded."""

    def __init__(self, function, stage: str):
        self._function = function
        self._stage = stage

    def request(self, method, path, *, query="", body=None):
        resource, parameters = route_of(path)
        event = proxy_event(
            method, resource, path, path_parameters=parameters, query_string=query, body=body, stage=self._stage
        )
        response = self._function.handle(event, None)
        # What Lambda's runtime sends back: the response object as JSON (ASCII escapes, its larger encoding).
        return Answer(response["statusCode"], response["body"], len(json.dumps(response)))


def test_clients_interleaving_through_the_handler_agree_with_the_model(
    handler_module, shipped_client, local_dynamodb, synth, stage
):
    def transport():
        api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, uuid.uuid4().hex[:12])
        [spec] = api.functions.values()
        return HandlerTransport(handler_module.ItemsFunction.from_environment(spec.environment, shipped_client), stage)

    machine = type("HandlerMachine", (ItemsMachine,), {"transport_factory": staticmethod(transport)})
    run_state_machine_as_test(machine, settings=settings(settings(), max_examples=40, stateful_step_count=25))
