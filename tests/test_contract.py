"""The API's contract (api/openapi.json) agrees with the template, the handler and the local API, and an
external fuzzer (schemathesis, all checks) finds the local API built from the template keeping it."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from api import contract, schemas
from conftest import local_api_definition, named_tables, PROJECT_ROOT
from localdev.api import LocalApi
from localdev.template import read_api
from test_stack import _methods_by_route

HOOKS_DIR = Path(__file__).parent / "contract"
# The gate runs a fixed, seeded budget; `tox -e fuzz` (HYPOTHESIS_PROFILE=fuzz) a large random one.
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
SCHEMATHESIS_BUDGET = (
    ["--max-examples", "300", "--phases", "coverage,fuzzing,stateful"]
    if FUZZ
    else ["--max-examples", "25", "--phases", "fuzzing,stateful", "--seed", "0"]
)
# Reachable only without API Gateway in front (it refuses unknown routes and methods with 403 first).
FUNCTION_ONLY_CODES = {"OperationNotFound"}


def test_the_document_is_valid_openapi_3_1():
    document = contract.load()
    validate(document)
    assert document["openapi"].startswith("3.1.")


def test_regenerating_the_documents_limits_reproduces_the_committed_document():
    assert schemas.render(schemas.generate(contract.load())) == contract.DOCUMENT.read_text()


def test_a_limit_changed_without_regenerating_is_caught(monkeypatch):
    monkeypatch.setattr(contract.limits, "PAGE_SIZE_MAX", contract.limits.PAGE_SIZE_MAX + 1)
    regenerated = schemas.generate(contract.load())
    assert regenerated != contract.load()
    assert regenerated["components"]["schemas"]["PageSize"]["maximum"] == contract.limits.PAGE_SIZE_MAX


def test_the_documents_operations_are_the_templates_methods_named_by_operation_id(synth):
    methods = _methods_by_route(synth)
    assert {route: props["OperationName"] for route, props in methods.items()} == contract.operation_ids()


def test_the_function_serves_every_operation_id_and_no_other(function):
    assert set(function.operations) == set(contract.operation_ids().values())
    assert function.routes == contract.operation_ids()


def test_every_operation_requires_sigv4_as_the_template_does(synth):
    document = contract.load()
    assert document["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    methods = synth.resources_of_type("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"AWS_IAM"}


def test_the_templates_request_models_are_the_documents_request_bodies(synth):
    api = read_api(synth.template_json, Path(synth.assembly.directory), named_tables(synth.template_json, "any"))
    models = {(route.path, route.method): route.body_schema for route in api.routes if route.body_schema}
    assert set(models) == {op for op in contract.operations() if contract.request_body_schema_name(*op)}
    for (path, method), model in models.items():
        assert {k: v for k, v in model.items() if k != "$schema"} == contract.request_model(path, method)


def test_the_documents_error_codes_are_the_handlers(handler_module):
    import errors

    documented = {
        code
        for item in contract.load()["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
        for response in operation["responses"].values()
        for code in contract.resolve(response).get("x-error-codes", [])
    }
    handler_codes = {cls.code for cls in errors.ApiError.__subclasses__()}
    function_codes = {code for code in documented if not code.isupper()}  # API Gateway's types are UPPER_CASE
    assert function_codes == (handler_codes - FUNCTION_ONLY_CODES) | {"InternalError"}
    assert {"MISSING_AUTHENTICATION_TOKEN", "BAD_REQUEST_BODY", "THROTTLED", "INVALID_SIGNATURE"} <= documented


def test_every_documented_error_status_has_the_error_body_schema():
    for path, item in contract.load()["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = contract.resolve(response)["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)
            assert {"403", "429", "502"} <= set(operation["responses"]), (path, method)


def test_api_gateways_own_answers_are_written_once_and_shared():
    """403, 414, 429 and 502 come from API Gateway whatever the operation: one response each, referenced."""
    for path, item in contract.load()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                for status in ("403", "414", "429", "502"):
                    assert set(operation["responses"][status]) == {"$ref"}, (path, method, status)


def test_every_operation_documents_api_gateways_size_refusals():
    for path, item in contract.load()["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                too_large = contract.resolve(operation["responses"]["413"])
                assert "REQUEST_TOO_LARGE" in too_large["x-error-codes"], (path, method)
                assert contract.resolve(operation["responses"]["414"])["x-error-codes"] == ["URI_TOO_LONG"]


def test_a_pages_next_is_an_id_in_the_document_as_in_the_function():
    document = contract.load()
    [next_parameter] = [p for p in document["paths"]["/items"]["get"]["parameters"] if p["name"] == "next"]
    returned = document["components"]["schemas"]["ItemPage"]["properties"]["next"]
    for schema in (next_parameter["schema"], returned):
        assert schema["$ref"] == "#/components/schemas/Id"


def test_attribute_names_must_be_non_empty_in_the_document_as_in_the_function():
    """OpenAPI 3.1's propertyNames states it (schemathesis found {"": 1} schema-valid and refused under 3.0)."""
    document = contract.load()
    bodies = {contract.request_body_schema_name(*operation) for operation in contract.operations()} - {None}
    for name in bodies | {"Item"}:
        validator = Draft202012Validator(
            {**document["components"]["schemas"][name], "components": document["components"]}
        )
        assert not validator.is_valid({"": 1, "version": 1, "id": "a"}), name
        assert not validator.is_valid({"a": {"": 1}, "version": 1, "id": "a"}), name


ID = Draft202012Validator(contract.resolve({"$ref": "#/components/schemas/Id"}))


def _accepted(check, value) -> bool:
    """Whether the function's check accepts value (it raises one of its 4xx errors if not)."""
    from errors import ApiError

    try:
        check(value)
        return True
    except ApiError:
        return False


@given(item_id=st.text(max_size=130) | st.from_regex(r"[A-Za-z0-9_.:-]{1,3}", fullmatch=True))
def test_the_document_and_the_handler_agree_on_every_id(handler_module, item_id):
    import validation

    assert ID.is_valid(item_id) == _accepted(validation.validate_id, item_id), item_id


# Numbers: the document's Number schema accepts exactly what the handler stores ----------------------------------


# JSON Schema values are exact: a literal such as 1.0000000000000002e+38 is that decimal number, an integer of
# 17 significant digits, not the double nearest to it. The document is checked on the literal's exact value
# (an int when it is whole, a Decimal otherwise), which is also what the function reads.
def _exact_value(literal: Decimal) -> int | Decimal:
    return int(literal) if literal == literal.to_integral_value() else literal


NUMBER = Draft202012Validator(contract.load()["components"]["schemas"]["Number"])


@given(
    mantissa=st.integers(min_value=-(10**40), max_value=10**40),
    exponent=st.integers(min_value=0, max_value=130),
)
def test_the_document_and_the_handler_agree_on_every_integer(handler_module, mantissa, exponent):
    import validation

    number = mantissa * 10**exponent
    assert NUMBER.is_valid(number) == _accepted(validation._check_number, number), number


@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_the_document_and_the_handler_agree_on_every_double(handler_module, number):
    import validation

    parsed = json.loads(json.dumps(number), parse_float=Decimal)
    assert NUMBER.is_valid(_exact_value(parsed)) == _accepted(validation._check_number, parsed), number


# schemathesis against the local API built from the synthesized template --------------------------------------


@pytest.fixture(scope="module")
def served(synth, local_dynamodb):
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "contract")
    server = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lambda line: None, contract=contract.load()).start()
    yield server
    server.stop()


def test_schemathesis_with_all_checks_finds_the_api_keeping_its_contract(served, tmp_path):
    document_url = served.url.replace(f"/{served.api.stage}/", "/openapi.json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            document_url,
            "--checks",
            "all",
            *SCHEMATHESIS_BUDGET,
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,  # schemathesis keeps a cache of past failures in its working directory: none carries over
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
            "PYTHONPATH": os.pathsep.join([str(HOOKS_DIR), str(PROJECT_ROOT)]),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


# Query parameters: the function accepts exactly the ones the document gives each operation -------------------

QUERY_VALUES = {"limit": "1", "next": "a", "version": "1"}


def test_each_operation_accepts_exactly_its_documented_query_parameters(api):
    api.request("POST", "/items", body={"id": "a"})
    for (path, method), operation in contract.operation_ids().items():
        item = contract.load()["paths"][path]
        parameters = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
        documented = {p["name"] for p in parameters if p["in"] == "query"}
        concrete = path.replace("{id}", "a")
        body = {"version": 1} if contract.request_body_schema_name(path, method) == "ItemReplacement" else None
        for name in documented:
            response = api.request(method, concrete, query=f"{name}={QUERY_VALUES[name]}", body=body)
            assert "unknown query parameter" not in str(response.json), (operation, name)
            api.request("POST", "/items", body={"id": "a"})  # a delete may have removed it
        refused = api.request(method, concrete, query="undocumented=1", body=body)
        assert refused.status == 400 and "unknown query parameter" in refused.json["error"]["message"], operation
