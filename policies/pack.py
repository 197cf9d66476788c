"""Registers the policy gate on an app: cdk-nag's packs and the project's own rules, in one report.

All three are CDK validation plugins. They run after synthesis, when every Aspect (tagging included) has
run and the construct tree is final. A violation fails `app.synth()`, `cdk synth` and `cdk deploy`; the
report lands in `<outdir>/validation-report.json`. Findings are acknowledged, per construct and per
finding id, with `Validations.of(construct).acknowledge(...)` (all in policies/acknowledgements.py).
"""

import json

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Validations,
)
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

from policies.catalog import ALL_RULES
from policies.rules import Finding, TemplateView

PLUGIN_NAME = "ServerlessAutomationPolicies"
PLUGIN_VERSION = "1.0.0"


@jsii.implements(IPolicyValidationPlugin)
class ProjectPolicies:
    """Runs every rule in policies.rules over the finished construct tree and reports what fails."""

    def __init__(self, rules=ALL_RULES):
        self._rules = rules

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return PLUGIN_VERSION

    @property
    def rule_ids(self) -> list[str]:
        return [rule.rule_id for rule in self._rules]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        templates = {
            stack.stack_construct_path: json.loads(open(stack.template_path, encoding="utf-8").read())
            for stack in context.stack_templates
        }
        findings: list[Finding] = []
        view = TemplateView(templates)
        visitors = [rule(view, findings) for rule in self._rules]
        for node in context.app_construct.node.find_all():
            if _in_validated_stack(node, templates):
                for visitor in visitors:
                    visitor.visit(node)
        violations = [
            PolicyViolation(
                rule_name=finding.rule_id,
                description=finding.message,
                fix=finding.fix,
                severity="error",
                violating_resources=[
                    PolicyViolatingResource(
                        construct_path=finding.construct_path,
                        resource_logical_id=finding.logical_id,
                        locations=["Properties"],
                    )
                ],
            )
            for finding in findings
        ]
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def _in_validated_stack(node: IConstruct, templates: dict) -> bool:
    return any(node.node.path.startswith(path + "/") for path in templates)


def apply_policies(scope: IConstruct) -> None:
    """cdk-nag's AwsSolutions and Serverless packs, and the project's rules, on every stack in scope."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), ServerlessChecks(scope), ProjectPolicies())
