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

ASSET_KEY = re.compile(r"([0-9a-f]{64})\.zip")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    operation_name: str | None
    function_id: str
    authorization: str
    body_schema: dict | None

    def match(self, path: str) -> dict | None:
        """Path parameters if `path` matches this route's template (one segment per {name}), else None."""
        template, actual = self.path.strip("/").split("/"), path.strip("/").split("/")
        if len(template) != len(actual):
            return None
        parameters = {}
        for expected, segment in zip(template, actual):
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
    [stage] = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"]
    return stage["Properties"]["StageName"]


def read_api(template: dict, assembly_dir: Path, table_names: dict[str, str] | str) -> ApiDefinition:
    """The API as the template defines it; `table_names` maps each table's logical id to its local name
    (LocalDynamoDB.create_tables_from_template), or is the one name of a template with one table."""
    resources = template["Resources"]
    [api_id] = _of_type(resources, "AWS::ApiGateway::RestApi")
    stage = stage_name(template)
    if isinstance(table_names, str):
        [table_id] = _of_type(resources, "AWS::DynamoDB::Table")
        table_names = {table_id: table_names}
    routes = []
    for method_id in _of_type(resources, "AWS::ApiGateway::Method"):
        props = resources[method_id]["Properties"]
        integration = props.get("Integration", {})
        if integration.get("Type") != "AWS_PROXY":
            raise ValueError(f"{method_id}: only Lambda proxy integrations run locally")
        routes.append(
            Route(
                path=_resource_path(resources, api_id, props["ResourceId"]),
                method=props["HttpMethod"],
                operation_name=props.get("OperationName"),
                function_id=_integration_function(integration["Uri"]),
                authorization=props.get("AuthorizationType", "NONE"),
                body_schema=_body_schema(resources, props),
            )
        )
    functions = {
        function_id: _function_spec(resources, function_id, assembly_dir, table_names)
        for function_id in {route.function_id for route in routes}
    }
    gateway_responses = {
        r["Properties"]["ResponseType"]: r["Properties"].get("ResponseTemplates", {}).get("application/json", "")
        for r in (resources[k] for k in _of_type(resources, "AWS::ApiGateway::GatewayResponse"))
    }
    return ApiDefinition(
        stage=stage,
        routes=sorted(routes, key=lambda r: (r.path, r.method)),
        functions=functions,
        gateway_responses=gateway_responses,
    )


def _of_type(resources: dict, resource_type: str) -> list[str]:
    return sorted(k for k, v in resources.items() if v["Type"] == resource_type)


def _resource_path(resources: dict, api_id: str, reference: dict) -> str:
    if reference == {"Fn::GetAtt": [api_id, "RootResourceId"]}:
        return "/"
    props = resources[reference["Ref"]]["Properties"]
    parent = _resource_path(resources, api_id, props["ParentId"])
    return parent.rstrip("/") + "/" + props["PathPart"]


def _integration_function(uri: dict) -> str:
    for part in uri["Fn::Join"][1]:
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            return part["Fn::GetAtt"][0]
    raise ValueError(f"cannot find the function in integration URI {uri}")


def _body_schema(resources: dict, method_props: dict) -> dict | None:
    validator = method_props.get("RequestValidatorId")
    if not validator or not resources[validator["Ref"]]["Properties"].get("ValidateRequestBody"):
        return None
    model = method_props.get("RequestModels", {}).get("application/json")
    return resources[model["Ref"]]["Properties"]["Schema"] if model else None


def _function_spec(resources: dict, function_id: str, assembly_dir: Path, refs: dict) -> FunctionSpec:
    props = resources[function_id]["Properties"]
    environment = {}
    for name, value in props.get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, dict) and value.get("Ref") in refs:
            value = refs[value["Ref"]]
        if not isinstance(value, str):
            raise ValueError(f"{function_id}: environment variable {name} has no local value: {value}")
        environment[name] = value
    return FunctionSpec(function_id, props["Handler"], _code_dir(resources, props["Code"], assembly_dir), environment)


def _code_dir(resources: dict, code: dict, assembly_dir: Path) -> Path:
    """The staged asset directory behind the function's S3 key (the zip the artifacts bucket will hold)."""
    for key in _strings(code.get("S3Key"), resources):
        found = ASSET_KEY.search(key)
        if found and (assembly_dir / f"asset.{found.group(1)}").is_dir():
            return assembly_dir / f"asset.{found.group(1)}"
    raise ValueError(f"cannot find the code asset for {code}")


def _strings(value, resources: dict):
    """Every literal string reachable from a template value, following GetAtt SourceObjectKeys."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, resources)
    elif isinstance(value, dict):
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "SourceObjectKeys":
            yield from _strings(resources[value["Fn::GetAtt"][0]]["Properties"]["SourceObjectKeys"], resources)
        else:
            for item in value.values():
                yield from _strings(item, resources)
