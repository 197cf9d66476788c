"""The local API end to end: served from the synthesized template on a free port, driven over real HTTP."""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import botocore.auth
import pytest
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from api import contract
from app import STACK_ID, build_app
from conftest import documentation, items_function_spec, local_api_definition, named_tables, PROJECT_ROOT
from localdev.api import LocalApi
from localdev.sigv4 import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, LocalCredentials, sign
from localdev.template import read_api
from test_stack import _routes


def http(method: str, url: str, body=None, headers=None, *, signed=True) -> tuple[int, dict, object]:
    """One request over HTTP, SigV4-signed with the local credentials unless signed=False."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = dict(headers or {})
    if data is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    if signed:
        headers = sign(LocalCredentials(), method, url, headers, data or b"")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, dict(error.headers), error.read()
    return status, response_headers, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def local_api(synth, local_dynamodb):
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "local-e2e")
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, contract=contract.load()).start()
    yield server
    server.stop()


def test_crud_round_trip_over_http(local_api):
    url = local_api.url
    status, headers, created = http("POST", f"{url}items", {"id": "e2e-1", "name": "first"})
    assert status == 201 and headers["Location"] == f"/{local_api.api.stage}/items/e2e-1"
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
    for method, path in (("GET", "items/a/b"), ("GET", "orders"), ("TRACE", "items/x"), ("DELETE", "items")):
        status, _, body = http(method, f"{local_api.url}{path}")
        assert status == 403, (method, path)
        assert body == {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"}}
    assert http("GET", local_api.url.replace(f"/{local_api.api.stage}/", "/not-the-stage/") + "items")[0] == 403


def test_any_verb_the_api_does_not_define_gets_api_gateways_json_403(local_api):
    for method in ("TRACE", "CONNECT", "PROPFIND", "BREW"):
        status, headers, body = http(method, f"{local_api.url}items/x")
        assert status == 403 and headers["Content-Type"] == "application/json", method
        assert body["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"


def test_a_request_http_cannot_parse_gets_a_json_error_not_an_html_page(local_api):
    host, port = local_api.url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET /{local_api.api.stage}/items HTTP/9.9 extra\r\n\r\n".encode())
        raw = connection.makefile("rb").read()
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert b"Content-Type: application/json" in head
    assert json.loads(payload)["error"]["code"] == "BAD_REQUEST"


def test_the_contract_is_served_with_this_server_in_servers(local_api):
    status, _, document = http("GET", local_api.url.replace(f"/{local_api.api.stage}/", "/openapi.json"), signed=False)
    assert status == 200 and document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": local_api.url.rstrip("/"), "description": "this local API"}]
    assert set(document["paths"]) == {"/items", "/items/{id}"}


def test_body_failing_the_request_model_is_refused_before_the_function(local_api):
    status, _, body = http("PUT", f"{local_api.url}items/x", {"name": "no version"})
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST_BODY"
    status, _, body = http("POST", f"{local_api.url}items", b"[1, 2]")
    assert status == 400 and body["error"]["code"] == "BAD_REQUEST_BODY"


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("PUT", "items/x", {"name": "no version"}, '"version"'),
        ("PUT", "items/x", {"version": "1"}, "instance type (string)"),
        ("PUT", "items/x", {"version": 0}, "minimum: 1"),
        ("POST", "items", {"id": "a b"}, '"a b"'),
        ("POST", "items", {"id": "x" * 129}, "too long"),
        ("POST", "items", {"version": 1}, "should not have"),
        ("POST", "items", [1, 2], "instance type (array)"),
    ],
)
def test_a_body_failing_the_request_model_gets_the_validators_detail(local_api, method, path, body, named):
    """API Gateway's BAD_REQUEST_BODY carries the validator's message ($context.error.validationErrorString, in
    the format of the json-schema-validator library API Gateway reports it in), in the error shape."""
    status, _, answer = http(method, f"{local_api.url}{path}", body)
    assert status == 400 and answer["error"]["code"] == "BAD_REQUEST_BODY"
    assert named in answer["error"]["message"], answer


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_json_in_another_unicode_encoding_is_refused_by_the_local_validator(local_api, encoding):
    status, _, answer = http("POST", f"{local_api.url}items", json.dumps({"id": "u16"}).encode(encoding))
    assert status == 400 and answer["error"]["code"] == "BAD_REQUEST_BODY"
    assert http("GET", f"{local_api.url}items/u16")[0] == 404


def test_a_text_body_that_is_not_utf8_reaches_the_function_as_text_not_base64(local_api):
    """No binary media types: API Gateway treats the payload as UTF-8 text; invalid bytes are replaced."""
    status, _, created = http("POST", f"{local_api.url}items", b'{"id": "latin1", "s": "caf\xe9"}')
    assert status == 201 and created["s"] == "caf\ufffd"


def test_an_id_double_encoded_in_the_path_is_decoded_once_not_twice(local_api):
    http("POST", f"{local_api.url}items", {"id": "A"})
    assert http("GET", f"{local_api.url}items/%41")[0] == 200
    status, _, answer = http("GET", f"{local_api.url}items/%2541")
    assert status == 400 and answer["error"]["code"] == "InvalidRequest"


def test_a_response_over_lambdas_payload_limit_is_a_502_as_deployed(tmp_path, local_dynamodb):
    """Lambda refuses a response over 6 MB and API Gateway answers 502; local mode must not serve it."""
    from localdev.template import ApiDefinition, FunctionSpec, Route
    from api.contract import limits

    (tmp_path / "big.py").write_text(
        "import json\n"
        "def handler(event, context):\n"
        "    size = int(event['queryStringParameters']['size'])\n"
        "    response = {'statusCode': 200, 'headers': {}, 'body': ''}\n"
        "    response['body'] = json.dumps('x' * (size - len(json.dumps(response)) - 4))  # quotes, escaped\n"
        "    return response\n"
    )
    api = ApiDefinition(
        stage="prod",
        routes=[Route("/big", "GET", "Big", "NONE", None)],
        functions={"Big": FunctionSpec("Big", "big.handler", tmp_path, {})},
    )
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, credentials=None).start()
    try:
        limit = limits.LAMBDA_SYNC_PAYLOAD_BYTES
        assert http("GET", f"{server.url}big?size={limit}", signed=False)[0] == 200
        status, _, answer = http("GET", f"{server.url}big?size={limit + 1}", signed=False)
        assert status == 502 and answer == {"message": "Internal server error"}
    finally:
        server.stop()


def test_client_mistakes_that_pass_the_model_reach_the_function(local_api):
    status, _, body = http("POST", f"{local_api.url}items", {"n": 10**39 + 1})
    assert status == 400 and body["error"]["code"] == "InvalidItem"
    status, _, body = http("GET", f"{local_api.url}items?limit=500")
    assert status == 400 and body["error"]["code"] == "InvalidRequest"


def test_a_function_error_becomes_a_502_with_the_generic_body(synth, local_dynamodb):
    api = read_api(synth.template_json, Path(synth.assembly.directory), named_tables(synth.template_json, "unreachable"))
    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens, every attempt is refused
    server = LocalApi(api, unreachable, port=0, log=lambda line: None).start()
    try:
        status, _, body = http("GET", f"{server.url}items/x")
    finally:
        server.stop()
    assert status == 502
    assert body == {"error": {"code": "InternalError", "message": "Internal server error"}}


def test_each_invocation_gets_a_trace_header_and_its_dynamodb_calls_are_shown(synth, local_dynamodb):
    """As Lambda does, the local API gives every invocation a sampled _X_AMZN_TRACE_ID and stands in for the
    X-Ray daemon: each DynamoDB call the function makes is logged as the subsegment it sends."""
    lines: list[str] = []
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "local-xray")
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lines.append).start()
    try:
        assert http("POST", f"{server.url}items", {"id": "xray-1"})[0] == 201
        assert http("GET", f"{server.url}items/xray-1")[0] == 200
        deadline = time.monotonic() + 5
        while len([line for line in lines if "X-Ray" in line]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    traced = [line for line in lines if line.startswith("  X-Ray DynamoDB")]
    assert [line.split()[2] for line in traced] == ["PutItem", "GetItem"]
    trace_ids = {re.search(r"trace (1-[0-9a-f]{8}-[0-9a-f]{24})$", line).group(1) for line in traced}
    assert len(trace_ids) == 2, "one trace per invocation"


# The runner has no routes of its own: it serves what the template says -------------------------------------


def test_local_routes_are_the_templates(synth):
    api = read_api(synth.template_json, Path(synth.assembly.directory), named_tables(synth.template_json, "any"))
    assert {(route.path, route.method) for route in api.routes} == _routes(synth) == contract.operations()


def test_a_route_and_a_table_added_to_the_stack_are_served_without_runner_changes(tmp_path, local_dynamodb):
    """What a team adds (an operation, a second table with an index) runs locally with no change to localdev/."""
    app = build_app(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = app.node.find_child(STACK_ID)
    stack.api.root.add_resource("health").add_method("GET", apigateway.LambdaIntegration(stack.function))
    audit = dynamodb.Table(
        stack,
        "AuditTable",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        removal_policy=RemovalPolicy.DESTROY,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
    )
    audit.add_global_secondary_index(
        index_name="by-time", partition_key=dynamodb.Attribute(name="at", type=dynamodb.AttributeType.STRING)
    )
    stack.function.add_environment("AUDIT_TABLE_NAME", audit.table_name)
    assembly = app.synth()
    template = json.loads((Path(assembly.directory) / f"{STACK_ID}.template.json").read_text())
    tables = local_dynamodb.create_tables_from_template(template, "added")
    assert len(tables) == 2
    [audit_name] = [name for logical_id, name in tables.items() if logical_id.startswith("AuditTable")]
    described = local_dynamodb.client().describe_table(TableName=audit_name)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert [index["IndexName"] for index in described["GlobalSecondaryIndexes"]] == ["by-time"]
    api = read_api(template, Path(assembly.directory), tables)
    function = items_function_spec(api)
    assert function.environment["AUDIT_TABLE_NAME"] == audit_name
    assert function.environment["TABLE_NAME"] in set(tables.values()) - {audit_name}
    assert ("/health", "GET") in {(r.path, r.method) for r in api.routes}
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None).start()
    try:
        status, _, body = http("GET", f"{server.url}health")
    finally:
        server.stop()
    assert status == 404 and body["error"]["code"] == "OperationNotFound", "the function, not the gateway, answered"


# The command itself ----------------------------------------------------------------------------------------------


def _files(directory: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in directory.rglob("*")} if directory.exists() else {}


def test_command_holds_its_port_prints_the_url_serves_and_stops_cleanly_on_ctrl_c():
    checked_assembly = _files(PROJECT_ROOT / "cdk.out")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev", "--port", str(port)],
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
            if line.startswith("Synthesizing"):
                with socket.socket() as latecomer, pytest.raises(OSError):
                    latecomer.bind(("127.0.0.1", port))  # held from the start: nothing takes it meanwhile
            found = re.search(rf"Listening on (http://127\.0\.0\.1:\d+/{contract.stage()}/)", line)
            if found:
                url = found.group(1)
                break
        else:
            pytest.fail("the command ended before listening:\n" + "".join(output))
        banner = "".join(output)
        assert "IAM (SigV4) authorization is checked" in banner and LOCAL_ACCESS_KEY_ID in banner
        sign_option = (
            f"--aws-sigv4 'aws:amz:us-east-1:execute-api' --user '{LOCAL_ACCESS_KEY_ID}:{LOCAL_SECRET_ACCESS_KEY}'"
        )
        assert f"curl -s {sign_option} {url}items/first" in banner
        assert http("POST", f"{url}items", {"id": "cli"})[0] == 201
        assert http("GET", f"{url}items/cli")[2]["id"] == "cli"
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, rest
    assert re.search(rf"POST /{contract.stage()}/items 201 \d+ ms", rest) and "Stopping." in rest
    assert "Traceback" not in rest
    assert _files(PROJECT_ROOT / "cdk.out") == checked_assembly, "local mode never writes the checked cdk.out/"


def test_a_busy_port_is_one_line_naming_port_before_any_synthesis():
    with socket.socket() as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        port = occupied.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "localdev", "--port", str(port)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2 and "Synthesizing" not in result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr and "--port" in result.stderr


def test_a_settings_mistake_in_local_mode_is_the_apps_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "localdev", "--port", "0", "-c", "log_retension_days=7"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: unknown setting log_retension_days (from -c log_retension_days=... or cdk.json): "
        "did you mean log_retention_days?"
    )


# SigV4, checked locally as API Gateway checks AWS_IAM methods --------------------------------------------------


def _refusal(status_and_body) -> tuple[int, str, str]:
    status, _, body = status_and_body
    return status, body["error"]["code"], body["error"]["message"]


def test_a_request_signed_with_the_local_credentials_reaches_the_function(local_api):
    status, _, body = http("GET", f"{local_api.url}items/nobody-here")
    assert status == 404 and body["error"]["code"] == "ItemNotFound"


def test_an_unsigned_request_gets_missing_authentication_token(local_api):
    assert _refusal(http("GET", f"{local_api.url}items", signed=False)) == (
        403,
        "MISSING_AUTHENTICATION_TOKEN",
        "Missing Authentication Token",
    )


def _signed_then_sent(local_api, method, path, body, *, tamper=lambda url, data, headers: (url, data, headers)):
    url = f"{local_api.url}{path}"
    data = json.dumps(body).encode()
    headers = sign(LocalCredentials(), method, url, {"Content-Type": "application/json"}, data)
    url, data, headers = tamper(url, data, headers)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.parametrize(
    "method, path, tamper",
    [
        ("POST", "items", lambda url, data, headers: (url, data.replace(b"first", b"forged"), headers)),
        ("PUT", "items/first", lambda url, data, headers: (url.replace("/first", "/second"), data, headers)),
    ],
    ids=["tampered-body", "tampered-path"],
)
def test_a_tampered_request_gets_invalid_signature(local_api, method, path, tamper):
    result = _signed_then_sent(local_api, method, path, {"name": "first", "version": 1}, tamper=tamper)
    assert _refusal(result) == (
        403,
        "INVALID_SIGNATURE",
        "The request signature we calculated does not match the signature you provided.",
    )


@pytest.mark.parametrize(
    "credentials, message",
    [
        (LocalCredentials(secret_access_key="not-the-local-secret"), "signature we calculated does not match"),
        (LocalCredentials(access_key_id="AKIAOTHERKEY00000000"), "security token included in the request is invalid"),
        (LocalCredentials(region="eu-west-1"), "scoped to service 'execute-api' in region 'us-east-1'"),
    ],
    ids=["wrong-secret", "unknown-key", "other-region"],
)
def test_a_request_signed_with_other_credentials_is_refused(local_api, credentials, message):
    url = f"{local_api.url}items"
    request = urllib.request.Request(url, headers=sign(credentials, "GET", url, {}, b""))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    body = json.loads(refused.value.read())
    assert refused.value.code == 403 and body["error"]["code"] == "INVALID_SIGNATURE"
    assert message in body["error"]["message"]


def test_a_request_signed_for_another_service_is_refused(local_api):
    url = f"{local_api.url}items"
    request = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY), "s3", "us-east-1").add_auth(request)
    refused = http_raw(url, dict(request.headers.items()))
    assert refused[0] == 403 and refused[1]["error"]["code"] == "INVALID_SIGNATURE"


def test_a_signature_more_than_five_minutes_old_is_refused(local_api, monkeypatch):
    stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale)
    status, code, message = _refusal(http("GET", f"{local_api.url}items"))
    assert (status, code) == (403, "INVALID_SIGNATURE") and "Signature expired" in message


def http_raw(url, headers) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_no_auth_accepts_unsigned_requests(synth, local_dynamodb):
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "no-auth")
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, credentials=None).start()
    try:
        assert http("POST", f"{server.url}items", {"id": "open"}, signed=False)[0] == 201
    finally:
        server.stop()


def test_api_auth_none_needs_no_signature_as_the_deployed_api_would(synth_with, local_dynamodb):
    opened = synth_with(api_auth="none")
    api = local_api_definition(local_dynamodb, opened.template_json, opened.assembly.directory, "api-auth-none")
    assert {route.authorization for route in api.routes} == {"NONE"}
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None).start()
    try:
        assert http("POST", f"{server.url}items", {"id": "open"}, signed=False)[0] == 201
    finally:
        server.stop()


def test_the_local_pages_python_example_signs_and_creates_an_item(local_api, capsys):
    section = (PROJECT_ROOT / "docs" / "local-development.md").read_text()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(code.replace(f"http://127.0.0.1:3000/{local_api.api.stage}/", local_api.url), {})
    assert capsys.readouterr().out.startswith("201 {")


def test_the_local_pages_curl_examples_work_as_written(local_api):
    section = (PROJECT_ROOT / "docs" / "local-development.md").read_text()
    script = re.search(r"```sh\n(SIGN=.*?)```", section, re.S).group(1)
    result = subprocess.run(
        ["bash", "-c", script.replace(f"http://127.0.0.1:3000/{local_api.api.stage}/", local_api.url)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decoder, text, documents = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        document, end = decoder.raw_decode(text)
        documents.append(document)
        text = text[end:].strip()
    created, fetched = documents
    assert created["id"] == "first" and fetched == created
