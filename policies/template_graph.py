"""How the project reads a synthesized template: IAM statements, references, and the dependency graph.

IAM: a statement's Action, Resource or Principal may be one value or a list ("IAM JSON policy elements",
IAM User Guide), and CDK writes a single action as a string; every reader goes through as_list, so the two
are the same thing everywhere (rules, deployability rules, tests).

The dependency graph is what CloudFormation derives from a template, for rules about ordering.

CloudFormation creates a resource after everything it references (Ref, Fn::GetAtt, Fn::Sub) or names in
DependsOn, and deletes it before them; resources with no path between them are created and deleted in
parallel ("DependsOn attribute", AWS CloudFormation User Guide). A rule that needs "A is deleted before B"
asks whether A depends on B here, directly or through other resources.
"""

from __future__ import annotations

import re
from functools import cache

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def as_list(value) -> list:
    """An IAM element's values: one value or a list of them, as a list."""
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


def references(value) -> set[str]:
    """Logical ids and pseudo parameters a template value points at (Ref, Fn::GetAtt, Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                local = inner[1] if isinstance(inner, list) and len(inner) > 1 else {}
                found |= {name.split(".")[0] for name in _SUB_VARIABLE.findall(text) if name not in local}
                found |= references(local)
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


class DependencyGraph:
    """Edges from each resource to the resources it references or names in DependsOn."""

    def __init__(self, template: dict):
        self.resources: dict[str, dict] = template.get("Resources", {})
        self._edges: dict[str, frozenset[str]] = {}
        for logical_id, resource in self.resources.items():
            depends_on = resource.get("DependsOn", [])
            targets = references(resource.get("Properties", {})) | set(
                [depends_on] if isinstance(depends_on, str) else depends_on
            )
            self._edges[logical_id] = frozenset(t for t in targets if t in self.resources)

    def direct(self, logical_id: str) -> frozenset[str]:
        return self._edges.get(logical_id, frozenset())

    @cache
    def transitive(self, logical_id: str) -> frozenset[str]:
        """Everything created before `logical_id` and deleted after it."""
        seen: set[str] = set()
        pending = list(self.direct(logical_id))
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(self.direct(current))
        return frozenset(seen)

    def depends_on(self, dependent: str, dependency: str) -> bool:
        return dependency in self.transitive(dependent)

    def of_type(self, *resource_types: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v.get("Type") in resource_types}
