"""Shared fixtures: one synthesis of the real app per session (with CDK's built-in validation on)."""

import json
import uuid
import os
from functools import cache
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def documentation() -> str:
    """Every page a user reads, as one text: the README, CONTRIBUTING, docs/ and bench/README.md."""
    pages = [
        PROJECT_ROOT / "README.md",
        PROJECT_ROOT / "CONTRIBUTING.md",
        PROJECT_ROOT / "bench" / "README.md",
        *sorted((PROJECT_ROOT / "docs").rglob("*.md")),
    ]
    return "\n".join(page.read_text() for page in pages)

# Nothing in the tests may reach AWS: fake credentials and a fixed region, whoever runs pytest.
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[name] = value

from aws_cdk.assertions import Template  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# The gate is deterministic: the same examples on every run (derandomized, no example database). The open-ended
# random search is `tox -e fuzz` (HYPOTHESIS_PROFILE=fuzz): fresh random examples, many more of them.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("gate", max_examples=300, derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", max_examples=20_000, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))

from app import STACK_ID, build_app  # noqa: E402
from policies.validation_report import ValidationReport  # noqa: E402
import jsonschema  # noqa: E402


class Synthesis:
    """A synthesized app: its cloud assembly directory, the stack's template, and the validation report."""

    def __init__(self, context: dict, outdir: Path, builtin_validation: bool):
        self.app = build_app(context, outdir=str(outdir), builtin_cloud_formation_validation=builtin_validation)
        self.assembly = self.app.synth()
        self.outdir = outdir
        stack = self.assembly.get_stack_artifact(STACK_ID)
        self.template_path = Path(self.assembly.directory) / stack.template_file
        self.template_json = json.loads(self.template_path.read_text())
        self.template = Template.from_json(self.template_json)
        report_path = outdir / "validation-report.json"
        self.report = ValidationReport.read(report_path)
        # The file itself, for tests that feed altered copies to readers of untrusted reports.
        self.report_json = json.loads(report_path.read_text()) if report_path.exists() else {"pluginReports": []}

    @property
    def resources(self) -> dict:
        return self.template_json["Resources"]

    def resources_of_type(self, resource_type: str) -> dict:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict]:
        found = self.resources_of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synthesis:
    """The app exactly as cdk.json configures it, synthesized once, with CDK's template validation on."""
    return Synthesis({}, tmp_path_factory.mktemp("cdk.out"), builtin_validation=True)


@pytest.fixture(scope="session")
def synth_with(tmp_path_factory):
    """Synthesize the app with context overrides (as `-c key=value` would); cached per distinct context."""

    @cache
    def build(**context) -> Synthesis:
        return Synthesis(context, tmp_path_factory.mktemp("cdk.out-variant"), builtin_validation=False)

    return build


# The handler against a DynamoDB-protocol server over HTTP on 127.0.0.1 ------------------------------------

from localdev.dynamodb import LocalDynamoDB  # noqa: E402
from localdev.events import proxy_event  # noqa: E402

# The SARIF 2.1.0 schema that github/codeql-action's upload-sarif carries (tests/test_sarif.py names the
# version), with URI formats checked (rfc3986-validator is installed for that).
SARIF_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((PROJECT_ROOT / "tests" / "sarif" / "sarif-schema-2.1.0.json").read_text()),
    format_checker=jsonschema.FormatChecker(),
)


@pytest.fixture(scope="session")
def local_dynamodb():
    with LocalDynamoDB() as server:
        yield server


@pytest.fixture(scope="session")
def aws_stand_in(local_dynamodb) -> str:
    """The same moto server as an AWS endpoint: it serves STS, SSM, CloudFormation and the rest, not only DynamoDB."""
    return local_dynamodb.endpoint_url


def local_api_definition(dynamodb, template: dict, assembly_dir, prefix: str):
    """The API as local mode reads it from a template, every table of the template created under `prefix`."""
    from localdev.template import read_api

    return read_api(template, Path(assembly_dir), dynamodb.create_tables_from_template(template, prefix))


def named_tables(template: dict, prefix: str) -> dict[str, str]:
    """A local name for every table of the template, for a test that creates none."""
    return {k: f"{prefix}-{k}" for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}


def items_table(api) -> str:
    """The local name of the table behind the items function's TABLE_NAME."""
    return items_function_spec(api).environment["TABLE_NAME"]


@pytest.fixture(scope="session")
def handler_module(synth, local_dynamodb):
    """lambda/handler.py imported as Lambda would, with the environment the template gives it (tables local)."""
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, "session")
    os.environ.update(items_function_spec(api).environment)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local_dynamodb.endpoint_url
    import handler  # the function's zip root is on the path (pyproject's pytest pythonpath), as in Lambda

    return handler


@pytest.fixture(scope="session")
def shipped_client(handler_module, local_dynamodb):
    """The client the function ships (botocore only, the handler's retry and timeout configuration), pointed
    at the local server: what tests and their faults exercise."""
    from dynamodb_client import create_client

    return create_client(handler_module.CLIENT_CONFIG, endpoint_url=local_dynamodb.endpoint_url)


@pytest.fixture
def dynamodb_calls(shipped_client):
    """The DynamoDB API calls the shipped client makes during one test: operation name and parameters."""
    calls = []

    def record(model, params, **_):
        calls.append({"operation": model.name, "params": params})

    shipped_client.meta.events.register("before-parameter-build.dynamodb", record)
    yield calls
    shipped_client.meta.events.unregister("before-parameter-build.dynamodb", record)


# The handler lambda/handler.py serves: the function the harness below drives.
ITEMS_HANDLER = "handler.handler"


def items_function_spec(api):
    """The function of the API that runs lambda/handler.py."""
    return next(spec for spec in api.functions.values() if spec.handler == ITEMS_HANDLER)


@pytest.fixture
def function_spec(local_dynamodb, synth):
    """The items function as local mode reads it from the template, on empty tables of the synthesized shape
    (named for this test): its logical id and the environment it runs with."""
    api = local_api_definition(local_dynamodb, synth.template_json, synth.assembly.directory, uuid.uuid4().hex[:12])
    return items_function_spec(api)


@pytest.fixture
def function(handler_module, shipped_client, function_spec):
    """The function for one test, built as the entry point builds it, on the test's tables."""
    return handler_module.ItemsFunction.from_environment(function_spec.environment, shipped_client)


@pytest.fixture
def fresh_table(function) -> str:
    """The name of the test's table behind `function`."""
    return function.items.table_name


class ApiClient:
    """Calls the function the way API Gateway's proxy integration does, and decodes the response."""

    def __init__(self, function, stage: str):
        self._handle = function.handle
        self.stage = stage

    def request(self, method: str, path: str, *, body=None, query: str = "", headers: dict | None = None):
        if isinstance(body, (dict, list, int, float)):
            body = json.dumps(body)
        resource, parameters = route_of(path)
        event = proxy_event(
            method,
            resource,
            path,
            path_parameters=parameters,
            query_string=query,
            headers=headers,
            body=body,
            stage=self.stage,
        )
        response = self._handle(event, None)
        return Response(response)


class Response:
    def __init__(self, raw: dict):
        self.raw = raw
        self.status = raw["statusCode"]
        self.headers = raw.get("headers") or {}
        self.json = json.loads(raw["body"]) if raw.get("body") else None

    @property
    def error_code(self) -> str | None:
        return (self.json or {}).get("error", {}).get("code")


def route_of(path: str) -> tuple[str, dict]:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "items":
        return "/items/{id}", {"id": parts[1]}
    return path, {}


@pytest.fixture(scope="session")
def stage(synth) -> str:
    """The API's stage, as the synthesized template names it (from the document's stage server variable)."""
    from localdev.template import stage_name

    return stage_name(synth.template_json)


@pytest.fixture
def api(function, stage) -> ApiClient:
    return ApiClient(function, stage)
