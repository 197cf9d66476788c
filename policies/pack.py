"""Registers the policy gate on an app: cdk-nag's packs and the project's own rules, in one report.

All three are CDK validation plugins. They run after synthesis, when every Aspect (tagging included) has
run and the construct tree is final. A violation fails `app.synth()`, `cdk synth` and `cdk deploy`; the
report lands in `<outdir>/validation-report.json`. Findings are acknowledged, per construct and per
finding id, with `Validations.of(construct).acknowledge(...)` (all in policies/acknowledgements.py).
"""

import json
from pathlib import Path

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

from config import ServiceConfig
from policies.engine import PLUGIN_NAME, PolicyRule, evaluate, registered
from policies.profiles import PROFILES

PLUGIN_VERSION = "1.0.0"


@jsii.implements(IPolicyValidationPlugin)
class ProjectPolicies:
    """Runs the registered rules (or the given ones) over the finished construct tree and reports what fails."""

    def __init__(self, rules: tuple[type[PolicyRule], ...] | None = None, config: ServiceConfig | None = None):
        self._rules = registered() if rules is None else rules
        self._config = config

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
            stack.stack_construct_path: json.loads(Path(stack.template_path).read_text(encoding="utf-8"))
            for stack in context.stack_templates
        }
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
            for finding in evaluate(self._rules, context.app_construct, templates, self._config)
        ]
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def apply_policies(scope: IConstruct, config: ServiceConfig | None = None) -> None:
    """cdk-nag's AwsSolutions and Serverless packs, the project's rules (held to the deployer's settings) and the
    selected compliance profiles (policies/profiles.py), on every stack in scope."""
    config = config or ServiceConfig()
    Validations.of(scope).add_plugins(
        AwsSolutionsChecks(scope),
        ServerlessChecks(scope),
        ProjectPolicies(config=config),
        *(PROFILES[name].build(scope) for name in config.compliance),
    )
