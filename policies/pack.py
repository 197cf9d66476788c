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
from policies.profiles import CDK_NAG_RULES, PROFILES

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


@jsii.implements(IPolicyValidationPlugin)
class WithFixes:
    """A cdk-nag pack whose findings carry a fix: cdk-nag reports what is wrong but no fix, and a refused
    synthesis should say what to change before how to acknowledge. The pack runs unchanged; its name, and so
    every acknowledgement id, is the pack's."""

    def __init__(self, pack: IPolicyValidationPlugin):
        self._pack = pack

    @property
    def name(self) -> str:
        return self._pack.name

    @property
    def version(self) -> str | None:
        return self._pack.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._pack.rule_ids

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        report = self._pack.validate(context)
        violations = [
            PolicyViolation(
                rule_name=violation.rule_name,
                description=violation.description,
                fix=violation.fix or nag_fix(violation.rule_name),
                severity=violation.severity,
                violating_resources=violation.violating_resources,
            )
            for violation in report.violations
        ]
        return PolicyValidationPluginReport(success=report.success, violations=violations)


def nag_fix(rule_name: str) -> str:
    rule = rule_name.split("[", 1)[0]
    return f"Change the construct so that {rule} passes; what it requires and why: {CDK_NAG_RULES}"


def apply_policies(scope: IConstruct, config: ServiceConfig | None = None) -> None:
    """cdk-nag's AwsSolutions and Serverless packs, the project's rules (held to the deployer's settings) and the
    selected compliance profiles (policies/profiles.py), on every stack in scope."""
    config = config or ServiceConfig()
    Validations.of(scope).add_plugins(
        WithFixes(AwsSolutionsChecks(scope)),
        WithFixes(ServerlessChecks(scope)),
        ProjectPolicies(config=config),
        *(
            WithFixes(PROFILES[name].build(scope)) if PROFILES[name].cdk_nag_pack else PROFILES[name].build(scope)
            for name in config.compliance
        ),
    )
