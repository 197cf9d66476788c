"""How the project reads a synthesized CloudFormation template: the one toolkit for rules, local mode and tests.

References: a value points at a resource through Ref, Fn::GetAtt or Fn::Sub; `references` finds them all, and
`reference` the one a value is. CloudFormation creates a resource after everything it references or names in
DependsOn, and deletes it before them; resources with no path between them are created and deleted in parallel
("DependsOn attribute", AWS CloudFormation User Guide). `Template.depends_on` answers "is A deleted before B".

IAM: a statement's Action, Resource or Principal may be one value or a list ("IAM JSON policy elements", IAM
User Guide), and CDK writes a single action as a string; every reader goes through `as_list`, so the two are the
same thing everywhere.

ARNs: an ARN in a template is often an Fn::Join or Fn::Sub with pseudo parameters; `arn_text` renders it as
one string with `${...}` where a value is only known at deploy time.

API Gateway: a method's path is the chain of AWS::ApiGateway::Resource PathParts from the RestApi's root;
`Template.methods` gives each method by its (path, HTTP method).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def as_list(value: Any) -> list:
    """An IAM element's values (or any one-or-many template value): one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def statement_actions(statement: dict) -> list[str]:
    return as_list(statement.get("Action", []))


def statement_resources(statement: dict) -> list:
    return as_list(statement.get("Resource", []))


def policy_statements(resource: dict) -> list[dict]:
    """Every statement of an IAM role's or policy's inline documents (Policies, or PolicyDocument)."""
    properties = resource.get("Properties", {})
    documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    if "PolicyDocument" in properties:
        documents.append(properties["PolicyDocument"])
    return [statement for document in documents for statement in as_list(document.get("Statement", []))]


def allow_statements(properties: dict) -> list[dict]:
    """The Allow statements of a role's or policy's properties."""
    return [s for s in policy_statements({"Properties": properties}) if s.get("Effect") == "Allow"]


def references(value: Any) -> set[str]:
    """Logical ids and pseudo parameters a template value points at (Ref, Fn::GetAtt, Fn::Sub), anywhere in it."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                local = inner[1] if isinstance(inner, list) and len(inner) > 1 else {}
                used = {name.split(".")[0] for name in _SUB_VARIABLE.findall(text)}
                found |= used - set(local)
                found |= references([value for name, value in local.items() if name in used])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def reference(value: Any) -> str | None:
    """The logical id a value is a Ref or Fn::GetAtt of, or None if it is something else."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def reference_attribute(value: Any) -> str | None:
    """The attribute an Fn::GetAtt names (Arn, RootResourceId ...), or None for any other value."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return target[1] if isinstance(target, list) else str(target).split(".", 1)[-1]
    return None


def arn_text(arn: Any) -> str:
    """An ARN that may be an Fn::Join, Fn::Sub or Ref with pseudo parameters, as readable text."""
    if isinstance(arn, str):
        return arn
    if isinstance(arn, dict) and "Fn::Join" in arn:
        delimiter, parts = arn["Fn::Join"]
        return delimiter.join(arn_text(part) for part in parts)
    if isinstance(arn, dict) and "Fn::Sub" in arn:
        return arn["Fn::Sub"] if isinstance(arn["Fn::Sub"], str) else arn["Fn::Sub"][0]
    if isinstance(arn, dict) and "Ref" in arn:
        return "${" + arn["Ref"] + "}"
    return str(arn)


class Template:
    """A synthesized template's resources: by type, by reference, by dependency and, for API Gateway, by route."""

    def __init__(self, body: dict):
        self.resources: dict[str, dict] = body.get("Resources", {})
        self._closures: dict[str, frozenset[str]] = {}

    def of_type(self, *resource_types: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") in resource_types}

    def only(self, resource_type: str) -> tuple[str, dict]:
        """The one resource of a type (a template with none or several is a ValueError)."""
        found = self.of_type(resource_type)
        if len(found) != 1:
            raise ValueError(f"expected one {resource_type}, found {len(found)}")
        return next(iter(found.items()))

    def resource(self, logical_id: str | None) -> dict:
        """A resource of this template, or {} for None or an id the template does not hold (a reference to a
        pseudo parameter, or to another stack)."""
        return self.resources.get(logical_id, {}) if logical_id is not None else {}

    def properties(self, logical_id: str | None) -> dict:
        return self.resource(logical_id).get("Properties", {})

    # Relations ----------------------------------------------------------------------------------------------

    def provider_functions(self) -> set[str]:
        """Functions that serve custom resources (a ServiceToken's target): CDK's handlers, run by deploys."""
        found = {
            reference(resource.get("Properties", {}).get("ServiceToken"))
            for resource in self.resources.values()
            if is_custom_resource(resource.get("Type", ""))
        }
        return {logical_id for logical_id in found if logical_id is not None}

    def application_functions(self) -> dict[str, dict]:
        """Every function that is not a custom-resource provider: the functions that serve the application."""
        providers = self.provider_functions()
        return {k: v for k, v in self.of_type("AWS::Lambda::Function").items() if k not in providers}

    def role_documents(self, role_id: str) -> list[dict]:
        """The properties of a role and of every policy resource attached to it: all that grants it anything."""
        return [self.properties(role_id), *(self.properties(p) for p in self.policies_attached_to(role_id))]

    def policies_attached_to(self, role_id: str) -> list[str]:
        """The AWS::IAM::Policy and ManagedPolicy resources that name the role, by logical id."""
        return sorted(
            logical_id
            for logical_id, resource in self.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items()
            if {"Ref": role_id} in as_list(resource.get("Properties", {}).get("Roles", []))
        )

    # Dependencies -------------------------------------------------------------------------------------------

    @cached_property
    def _edges(self) -> dict[str, frozenset[str]]:
        edges = {}
        for logical_id, resource in self.resources.items():
            targets = references(resource.get("Properties", {})) | set(as_list(resource.get("DependsOn", [])))
            edges[logical_id] = frozenset(t for t in targets if t in self.resources)
        return edges

    def direct(self, logical_id: str) -> frozenset[str]:
        """What a resource references or names in DependsOn."""
        return self._edges.get(logical_id, frozenset())

    def transitive(self, logical_id: str) -> frozenset[str]:
        """Everything created before `logical_id` and deleted after it."""
        if logical_id not in self._closures:
            seen: set[str] = set()
            pending = list(self.direct(logical_id))
            while pending:
                current = pending.pop()
                if current not in seen:
                    seen.add(current)
                    pending.extend(self.direct(current))
            self._closures[logical_id] = frozenset(seen)
        return self._closures[logical_id]

    def depends_on(self, dependent: str, dependency: str) -> bool:
        return dependency in self.transitive(dependent)

    # API Gateway --------------------------------------------------------------------------------------------

    def resource_path(self, resource_reference: Any) -> str:
        """The path of an AWS::ApiGateway::Resource (or "/" for a RestApi's RootResourceId)."""
        if reference_attribute(resource_reference) == "RootResourceId":
            return "/"
        properties = self.properties(resource_reference["Ref"])
        return self.resource_path(properties["ParentId"]).rstrip("/") + "/" + properties["PathPart"]

    def methods(self) -> dict[tuple[str, str], str]:
        """Each AWS::ApiGateway::Method's logical id, by (resource path, HTTP method), for a template with one
        RestApi (a ValueError otherwise: the routes of two APIs would merge)."""
        self.only("AWS::ApiGateway::RestApi")
        return {
            (self.resource_path(method["Properties"]["ResourceId"]), method["Properties"]["HttpMethod"]): logical_id
            for logical_id, method in self.of_type("AWS::ApiGateway::Method").items()
        }
