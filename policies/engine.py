"""The rule engine: what a rule is, the registry of rules, and one pass of every rule over the finished app.

A rule is one small class, like cdk-nag's: a `rule_id` (`SA-<FAMILY><n>`, the family being the module it is
filed in), the CloudFormation types it reads, a `fix`, a docstring saying what and why with its source, and
`check()`, which reads a resource exactly as it was rendered into the template (after every Aspect, tagging
included, has run) and returns what is wrong, one line each. Rules never mutate. `@register` files a rule in
the registry; `policies.pack.ProjectPolicies` runs the registry at synthesis and reports through CDK's
validation report, next to cdk-nag, where findings are acknowledged the same way.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import ClassVar

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

from cfn.template import Template
from config import ServiceConfig

PLUGIN_NAME = "ServerlessAutomationPolicies"
RULE_ID = re.compile(r"SA-(?P<family>[A-Z]+)(?P<number>[1-9][0-9]*)")


@dataclass(frozen=True)
class Finding:
    rule_id: str
    construct_path: str
    logical_id: str
    message: str
    fix: str


class PolicyRule:
    """Base class: subclasses set rule_id, resource_types (or override applies_to), fix, and check().

    A rule that holds the stack to a deployer's setting (retention, retained data) reads it from `self.config`,
    the same ServiceConfig the stack was built from.
    """

    rule_id: ClassVar[str]
    resource_types: ClassVar[frozenset[str]] = frozenset()
    fix: ClassVar[str]

    def __init__(self, config: ServiceConfig | None = None):
        self.config = config or ServiceConfig()

    @classmethod
    def finding_id(cls) -> str:
        """The id CDK's validation report gives this rule's findings, which an acknowledgement names."""
        return f"{PLUGIN_NAME}::{cls.rule_id}"

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def check(self, properties: dict, logical_id: str, template: Template) -> list[str]:
        raise NotImplementedError


_REGISTRY: dict[str, type[PolicyRule]] = {}


def register(rule: type[PolicyRule]) -> type[PolicyRule]:
    """Files a rule in the registry; its id must follow the format, carry its module's FAMILY, and be new."""
    family = getattr(sys.modules[rule.__module__], "FAMILY", None)
    match = RULE_ID.fullmatch(rule.rule_id)
    if match is None or match["family"] != family:
        raise ValueError(f"{rule.__name__}: rule_id {rule.rule_id!r} must be SA-{family}<n> ({rule.__module__}.FAMILY)")
    if _REGISTRY.get(rule.rule_id, rule) is not rule:
        raise ValueError(f"{rule.__name__}: rule_id {rule.rule_id} is already {_REGISTRY[rule.rule_id].__name__}'s")
    _REGISTRY[rule.rule_id] = rule
    return rule


def registered() -> tuple[type[PolicyRule], ...]:
    """Every registered rule, by family and number."""
    import policies.rules  # noqa: F401  (importing the families registers their rules)

    def order(rule: type[PolicyRule]) -> tuple[str, int]:
        match = RULE_ID.fullmatch(rule.rule_id)
        assert match is not None
        return match["family"], int(match["number"])

    return tuple(sorted(_REGISTRY.values(), key=order))


def evaluate(
    rules: tuple[type[PolicyRule], ...],
    app: IConstruct,
    templates: dict[str, dict],
    config: ServiceConfig | None = None,
) -> list[Finding]:
    """Every rule over every CfnResource of the stacks whose templates are given (by stack construct path)."""
    instances = [rule(config) for rule in rules]
    parsed = {path: Template(body) for path, body in templates.items()}
    findings = []
    for node in app.node.find_all():
        if not isinstance(node, CfnResource):
            continue
        stack = Stack.of(node)
        template = parsed.get(stack.node.path)
        if template is None:
            raise LookupError(f"{node.node.path}: its stack {stack.node.path} has no template to check")
        logical_id = stack.resolve(node.logical_id)
        properties = template.resources.get(logical_id, {}).get("Properties", {})
        for rule in instances:
            if rule.applies_to(node.cfn_resource_type):
                for problem in rule.check(properties, logical_id, template):
                    path = node.node.path
                    findings.append(Finding(rule.rule_id, path, logical_id, f"{path}: {problem}", rule.fix))
    return findings
