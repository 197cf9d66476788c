"""The local API end to end: served from the synthesized template on a free port, driven over real HTTP."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aws_cdk import aws_apigateway as apigateway

from app import STACK_ID, build_app
from conftest import PROJECT_ROOT
from localdev.api import LocalApi
from localdev.template import read_api
from test_stack import _routes


def http(method: str, url: str, body=None, headers=None) -> tuple[int, dict, object]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, dict(error.headers), error.read()
    return status, response_headers, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def local_api(synth, local_dynamodb):
    table = local_dynamodb.create_table_from_template(synth.template_json, "items-local-e2e")
    api = read_api(synth.template_json, Path(synth.assembly.directory), table)
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None).start()
    yield server
    server.stop()


def test_crud_round_trip_over_http(local_api):
    url = local_api.url
    status, headers, created = http("POST", f"{url}items", {"id": "e2e-1", "name": "first"})
    assert status == 201 and headers["Location"] == "/prod/items/e2e-1"
    assert http("GET", f"{url}items/e2e-1")[2] == {"id": "e2e-1", "name": "first", "version": 1}
    status, _, replaced = http("PUT", f"{url}items/e2e-1", {"name": "second", "version": 1})
    assert status == 200 and replaced["version"] == 2
    status, _, conflict = http("PUT", f"{url}items/e2e-1", {"name": "third", "version": 1})
    assert status == 409 and conflict["error"]["code"] == "VersionConflict"
    assert http("DELETE", f"{url}items/e2e-1")[0] == 204
    status, _, missing = http("GET", f"{url}items/e2e-1")
    assert status == 404 and missing["error"]["code"] == "ItemNotFound"


def test_list_paginates_over_http(local_api):
    url = local_api.url
    ids = {http("POST", f"{url}items", {"page": "yes"})[2]["id"] for _ in range(7)}
    seen, token = set(), None
    while True:
        status, _, page = http("GET", f"{url}items?limit=3" + (f"&next={token}" if token else ""))
        assert status == 200 and len(page["items"]) <= 3
        seen |= {item["id"] for item in page["items"]}
        token = page.get("next")
        if not token:
            break
    assert ids <= seen


def test_unknown_path_and_undefined_method_are_refused_as_api_gateway_does(local_api):
    for method, path in (("GET", "items/a/b"), ("GET", "orders"), ("PATCH", "items/x"), ("DELETE", "items")):
        status, _, body = http(method, f"{local_api.url}{path}")
        assert status == 403, (method, path)
        assert body == {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"}}
    assert http("GET", local_api.url.replace("/prod/", "/dev/") + "items")[0] == 403


def test_body_failing_the_request_model_is_refused_before_the_function(local_api):
    status, _, body = http("PUT", f"{local_api.url}items/x", {"name": "no version"})
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST_BODY"
    status, _, body = http("POST", f"{local_api.url}items", b"[1, 2]")
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST_BODY"


def test_client_mistakes_that_pass_the_model_reach_the_function(local_api):
    status, _, body = http("POST", f"{local_api.url}items", {"id": "has space"})
    assert status == 400 and body["error"]["code"] == "InvalidRequest"
    status, _, body = http("GET", f"{local_api.url}items?limit=500")
    assert status == 400 and body["error"]["code"] == "InvalidRequest"


def test_a_function_error_becomes_a_502_with_the_generic_body(synth, local_dynamodb):
    api = read_api(synth.template_json, Path(synth.assembly.directory), "items-unreachable")
    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens, every attempt is refused
    server = LocalApi(api, unreachable, port=0, log=lambda line: None).start()
    try:
        status, _, body = http("GET", f"{server.url}items/x")
    finally:
        server.stop()
    assert status == 502
    assert body == {"error": {"code": "InternalError", "message": "Internal server error"}}


# The runner has no routes of its own: it serves what the template says -------------------------------------


def test_local_routes_are_the_templates_and_the_handlers_routes(synth, handler_module):
    api = read_api(synth.template_json, Path(synth.assembly.directory), "any")
    local = {(route.path, route.method) for route in api.routes}
    assert local == _routes(synth)
    assert local == {(path, method) for path, methods in handler_module.ROUTES.items() for method in methods}


def test_a_route_added_to_the_stack_is_served_without_runner_changes(tmp_path, local_dynamodb):
    app = build_app(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = app.node.find_child(STACK_ID)
    stack.api.root.add_resource("health").add_method("GET", apigateway.LambdaIntegration(stack.function))
    assembly = app.synth()
    template = json.loads((Path(assembly.directory) / f"{STACK_ID}.template.json").read_text())
    table = local_dynamodb.create_table_from_template(template, "items-added-route")
    api = read_api(template, Path(assembly.directory), table)
    assert ("/health", "GET") in {(r.path, r.method) for r in api.routes}
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None).start()
    try:
        status, _, body = http("GET", f"{server.url}health")
    finally:
        server.stop()
    assert status == 404 and body["error"]["code"] == "RouteNotFound", "the function, not the gateway, answered"


# The command itself ----------------------------------------------------------------------------------------------


def test_command_prints_the_url_serves_and_stops_cleanly_on_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev", "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            found = re.search(r"Listening on (http://127\.0\.0\.1:\d+/prod/)", line)
            if found:
                url = found.group(1)
                break
        else:
            pytest.fail("the command ended before listening:\n" + "".join(output))
        banner = "".join(output)
        assert "IAM (SigV4) authorization" in banner and f"curl -s {url}items/first" in banner
        assert http("POST", f"{url}items", {"id": "cli"})[0] == 201
        assert http("GET", f"{url}items/cli")[2]["id"] == "cli"
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert re.search(r"POST /prod/items 201 \d+ ms", rest) and "Stopping." in rest
    assert "Traceback" not in rest
