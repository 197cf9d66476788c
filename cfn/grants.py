"""What a function's role grants, as (action, target) pairs, with DynamoDB's tables, indexes and streams told apart.

A grant on a table does not cover its indexes or its stream: each has its own ARN (`<table>/index/<name>`,
`<table>/stream/<label>`), and IAM matches the Resource element against the ARN of the resource a request
names (DynamoDB developer guide, "Using identity-based policies with DynamoDB"; Service Authorization
Reference, DynamoDB resource types). Comparing action names alone passes a Query granted on the table that an
index query needs, so every reader here compares pairs.

A target is written `table <TableId>`, `index <TableId>/<IndexName>`, `stream <TableId>`, or, for anything
else, the ARN as `arn_text` renders it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cfn.template import (
    Template,
    arn_text,
    policy_statements,
    reference,
    reference_attribute,
    statement_actions,
    statement_resources,
)

TABLE = "AWS::DynamoDB::Table"


def grant_target(resource: Any, template: Template) -> str:
    """The target of one Resource element value."""
    table = reference(resource)
    if template.resource(table).get("Type") == TABLE:
        attribute = reference_attribute(resource)
        if attribute == "Arn":
            return f"table {table}"
        if attribute == "StreamArn":
            return f"stream {table}"
    if isinstance(resource, dict) and "Fn::Join" in resource:
        delimiter, parts = resource["Fn::Join"]
        if delimiter == "" and len(parts) == 2 and isinstance(parts[1], str) and parts[1].startswith("/"):
            base = grant_target(parts[0], template)
            kind, _, suffix = parts[1][1:].partition("/")
            if base.startswith("table ") and kind in ("index", "stream") and suffix:
                return f"index {base[6:]}/{suffix}" if kind == "index" else f"stream {base[6:]}"
    return arn_text(resource)


def role_grants(template: Template, role_id: str, prefix: str = "") -> set[tuple[str, str]]:
    """Every (action, target) the role allows, through its inline policies and the policies attached to it;
    only actions starting with `prefix` (for example "dynamodb:")."""

    def pairs(statements) -> set[tuple[str, str]]:
        return {
            (action, grant_target(resource, template))
            for statement in statements
            for action in statement_actions(statement)
            if isinstance(action, str) and action.startswith(prefix)
            for resource in statement_resources(statement)
        }

    statements = [
        s for properties in template.role_documents(role_id) for s in policy_statements({"Properties": properties})
    ]
    # A conditional Allow may not apply when the code calls, so it proves nothing; a Deny takes its pairs away.
    allowed = pairs(s for s in statements if s.get("Effect") == "Allow" and "Condition" not in s)
    denied = pairs(s for s in statements if s.get("Effect") == "Deny")
    return {
        (action, target) for action, target in allowed if (action, target) not in denied and (action, "*") not in denied
    }


def function_grants(template: Template, function_id: str, prefix: str = "") -> set[tuple[str, str]]:
    role_id = reference(template.properties(function_id).get("Role"))
    return role_grants(template, role_id, prefix) if role_id else set()


def table_names(template: Template, function_id: str, environment: dict[str, str]) -> dict[str, str]:
    """The function's tables by the name it runs with: each environment variable the template sets to a
    table's Ref, with that variable's value in `environment` (the names a local or deployed run uses)."""
    variables = template.properties(function_id).get("Environment", {}).get("Variables", {})
    return {
        environment[name]: table
        for name, value in variables.items()
        if (table := reference(value)) and template.resource(table).get("Type") == TABLE and name in environment
    }


def call_target(parameters: dict, tables: dict[str, str]) -> str:
    """The target of one recorded DynamoDB call (its parameters as botocore received them)."""
    table = tables.get(parameters.get("TableName", ""), parameters.get("TableName", "?"))
    if "IndexName" in parameters:
        return f"index {table}/{parameters['IndexName']}"
    return f"table {table}"


def mismatches(granted: Iterable[tuple[str, str]], called: Iterable[tuple[str, str]]) -> list[str]:
    """What differs between a role's grant and its code's calls, one line each; empty when they are equal."""
    granted, called = set(granted), set(called)
    return [
        *(
            f"{action} on {target}: called, not granted (AccessDenied when deployed)"
            for action, target in sorted(called - granted)
        ),
        *(
            f"{action} on {target}: granted, never called (least privilege)"
            for action, target in sorted(granted - called)
        ),
    ]
