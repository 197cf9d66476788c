"""Reads what the local API needs from the synthesized template, so what runs locally is what deploys.

Routes and methods come from the AWS::ApiGateway::Resource tree and AWS::ApiGateway::Method resources;
the function behind each method from its Lambda proxy integration's URI; its handler, environment and code
from the AWS::Lambda::Function and the code asset in the cloud assembly; request-body models from the
method's RequestValidator and RequestModels; error bodies from the AWS::ApiGateway::GatewayResponse
templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cfn.template import Template, reference, reference_attribute, references

ASSET_KEY = re.compile(r"([0-9a-f]{64})\.zip")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    function_id: str
    authorization: str
    body_schema: dict | None

    def match(self, path: str) -> dict | None:
        """Path parameters if `path` matches this route's template (one segment per {name}), else None."""
        template, actual = self.path.strip("/").split("/"), path.strip("/").split("/")
        if len(template) != len(actual):
            return None
        parameters = {}
        for expected, segment in zip(template, actual, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                if not segment:
                    return None
                parameters[expected[1:-1]] = segment
            elif expected != segment:
                return None
        return parameters


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_dir: Path
    environment: dict


@dataclass(frozen=True)
class ApiDefinition:
    stage: str
    routes: list[Route]
    functions: dict[str, FunctionSpec]
    gateway_responses: dict[str, str] = field(default_factory=dict)

    def resolve(self, method: str, path: str) -> tuple[Route, dict] | None:
        for route in self.routes:
            parameters = route.match(path)
            if parameters is not None and route.method == method:
                return route, parameters
        return None


def stage_name(template: dict) -> str:
    """The API's one stage, as the template names it."""
    _, stage = Template(template).only("AWS::ApiGateway::Stage")
    return stage["Properties"]["StageName"]


def read_api(template: dict, assembly_dir: Path, table_names: dict[str, str]) -> ApiDefinition:
    """The API as the template defines it; `table_names` maps each table's logical id to its local name
    (LocalDynamoDB.create_tables_from_template)."""
    parsed = Template(template)
    routes = []
    for (path, method), method_id in parsed.methods().items():
        props = parsed.properties(method_id)
        integration = props.get("Integration", {})
        if integration.get("Type") != "AWS_PROXY":
            raise ValueError(f"{method_id}: only Lambda proxy integrations run locally")
        routes.append(
            Route(
                path=path,
                method=method,
                function_id=_integration_function(parsed, integration["Uri"]),
                authorization=props.get("AuthorizationType", "NONE"),
                body_schema=_body_schema(parsed, props),
            )
        )
    functions = {
        function_id: _function_spec(parsed, function_id, assembly_dir, table_names)
        for function_id in {route.function_id for route in routes}
    }
    gateway_responses = {
        response["Properties"]["ResponseType"]: response["Properties"]
        .get("ResponseTemplates", {})
        .get("application/json", "")
        for response in parsed.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    return ApiDefinition(
        stage=stage_name(template),
        routes=sorted(routes, key=lambda r: (r.path, r.method)),
        functions=functions,
        gateway_responses=gateway_responses,
    )


def _integration_function(template: Template, uri: dict) -> str:
    functions = references(uri) & set(template.of_type("AWS::Lambda::Function"))
    if len(functions) != 1:
        raise ValueError(f"cannot find the function in integration URI {uri}")
    return functions.pop()


def _body_schema(template: Template, method_props: dict) -> dict | None:
    validator = reference(method_props.get("RequestValidatorId"))
    if not validator or not template.properties(validator).get("ValidateRequestBody"):
        return None
    model = reference(method_props.get("RequestModels", {}).get("application/json"))
    return template.properties(model)["Schema"] if model else None


def _function_spec(template: Template, function_id: str, assembly_dir: Path, tables: dict) -> FunctionSpec:
    props = template.properties(function_id)
    environment = {}
    for name, value in props.get("Environment", {}).get("Variables", {}).items():
        referenced = value.get("Ref") if isinstance(value, dict) else None
        if referenced in tables:  # the table's name; its ARN (GetAtt) has no local value
            value = tables[referenced]
        if not isinstance(value, str):
            raise ValueError(f"{function_id}: environment variable {name} has no local value: {value}")
        environment[name] = value
    return FunctionSpec(function_id, props["Handler"], _code_dir(template, props["Code"], assembly_dir), environment)


def _code_dir(template: Template, code: dict, assembly_dir: Path) -> Path:
    """The staged asset directory behind the function's S3 key (the zip the artifacts bucket will hold)."""
    for key in _literal_strings(template, code.get("S3Key")):
        found = ASSET_KEY.search(key)
        if found and (assembly_dir / f"asset.{found.group(1)}").is_dir():
            return assembly_dir / f"asset.{found.group(1)}"
    raise ValueError(f"cannot find the code asset for {code}")


def _literal_strings(template: Template, value):
    """Every literal string reachable from a template value, following GetAtt SourceObjectKeys (the keys a
    BucketDeployment writes)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _literal_strings(template, item)
    elif isinstance(value, dict):
        if reference_attribute(value) == "SourceObjectKeys":
            yield from _literal_strings(template, template.properties(reference(value)).get("SourceObjectKeys"))
        else:
            for item in value.values():
                yield from _literal_strings(template, item)


@dataclass(frozen=True)
class StreamConsumer:
    """A Lambda event source mapping from a DynamoDB table's stream, as local mode runs it."""

    mapping_id: str
    function: FunctionSpec
    table_id: str
    batch_size: int
    retries: int
    starting_position: str
    failure_destination: str | None


# Lambda's default batch size for DynamoDB streams (AWS::Lambda::EventSourceMapping, BatchSize).
DEFAULT_STREAM_BATCH_SIZE = 100


def read_stream_consumers(template: dict, assembly_dir: Path, table_names: dict[str, str]) -> list[StreamConsumer]:
    """Every event source mapping that reads a DynamoDB table's stream, with the function it feeds."""
    parsed = Template(template)
    consumers = []
    for mapping_id, mapping in sorted(parsed.of_type("AWS::Lambda::EventSourceMapping").items()):
        props = mapping.get("Properties", {})
        table_id = reference(props.get("EventSourceArn"))
        if not _reads_a_table_stream(parsed, props.get("EventSourceArn")) or table_id is None:
            continue
        function_id = reference(props.get("FunctionName"))
        if function_id is None:
            continue
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        consumers.append(
            StreamConsumer(
                mapping_id=mapping_id,
                function=_function_spec(parsed, function_id, assembly_dir, table_names),
                table_id=table_id,
                batch_size=props.get("BatchSize", DEFAULT_STREAM_BATCH_SIZE),
                retries=props.get("MaximumRetryAttempts", -1),
                starting_position=props.get("StartingPosition", "LATEST"),
                failure_destination=reference(destination) if destination else None,
            )
        )
    return consumers


def unserved_functions(template: dict, served: set[str]) -> dict[str, str]:
    """The application functions local mode does not run (neither an API route nor a DynamoDB stream feeds
    them), each with what feeds it when deployed."""
    parsed = Template(template)
    feeds: dict[str, list[str]] = {}
    for mapping in parsed.of_type("AWS::Lambda::EventSourceMapping").values():
        props = mapping.get("Properties", {})
        function_id = reference(props.get("FunctionName"))
        source = parsed.resource(reference(props.get("EventSourceArn"))).get(
            "Type", "an event source outside the stack"
        )
        if function_id:
            feeds.setdefault(function_id, []).append(source)
    for permission in parsed.of_type("AWS::Lambda::Permission").values():
        props = permission.get("Properties", {})
        function_id = reference(props.get("FunctionName"))
        if function_id:
            feeds.setdefault(function_id, []).append(f"invocations by {props.get('Principal', 'another service')}")
    return {
        function_id: ", ".join(sorted(set(feeds.get(function_id, ["nothing in the template"]))))
        for function_id in sorted(set(parsed.application_functions()) - served)
    }


def _reads_a_table_stream(template: Template, source) -> bool:
    return (
        template.resource(reference(source)).get("Type") == "AWS::DynamoDB::Table"
        and reference_attribute(source) == "StreamArn"
    )
