"""The registry holds every rule, each with an id of one format, a docstring, a fix, and a way to break the real
stack once that the rule must catch: a rule that is not registered, or has no real-stack break, fails here."""

import inspect
import sys
from pathlib import Path

import pytest
from aws_cdk import CfnResource, RemovalPolicy, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from test_policies import synth_real_with

from policies import engine, rules
from policies.engine import PolicyRule, registered


def _cfn(construct) -> CfnResource:
    return construct.node.default_child


def _code_deployment_handler(stack) -> CfnResource:
    return _cfn(stack.code_deployment.handler_role.node.scope)


def _extra_grant(stack, actions: list[str], resources: list[str]) -> None:
    iam.Policy(
        stack,
        "ExtraGrant",
        roles=[stack.function_role],
        statements=[iam.PolicyStatement(actions=actions, resources=resources)],
    )


# Each rule's id, to the one change to the real stack that it must catch.
REAL_STACK_BREAKS = {
    "SA-TAG1": lambda stack: Tags.of(stack.table).remove("environment", priority=500),
    "SA-S1": lambda stack: _cfn(stack.artifacts_bucket).add_property_override(
        "BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault.SSEAlgorithm", "aws:kms"
    ),
    "SA-S2": lambda stack: _cfn(stack.artifacts_bucket).add_property_override(
        "PublicAccessBlockConfiguration.BlockPublicPolicy", False
    ),
    "SA-S3": lambda stack: _cfn(stack.artifacts_bucket.policy).add_property_override(
        "PolicyDocument.Statement.0.Effect", "Allow"
    ),
    "SA-IAM1": lambda stack: _extra_grant(stack, ["dynamodb:*"], [stack.table.table_arn]),
    "SA-IAM2": lambda stack: _extra_grant(stack, ["dynamodb:GetItem"], ["*"]),
    "SA-IAM3": lambda stack: _cfn(stack.function_role).add_property_override(
        "ManagedPolicyArns", ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    ),
    "SA-IAM4": lambda stack: stack.function.add_permission(
        "AnyApi", principal=iam.ServicePrincipal("apigateway.amazonaws.com")
    ),
    "SA-OBS1": lambda stack: _cfn(stack.api.deployment_stage).add_property_override(
        "MethodSettings.0.DataTraceEnabled", True
    ),
    "SA-OBS2": lambda stack: _cfn(stack.function_log_group).add_property_deletion_override("RetentionInDays"),
    "SA-OBS3": lambda stack: _cfn(stack.function).add_property_deletion_override("TracingConfig"),
    "SA-OBS4": lambda stack: _cfn(stack.api.deployment_stage).add_property_override("TracingEnabled", False),
    "SA-DEP1": lambda stack: stack.table.apply_removal_policy(RemovalPolicy.RETAIN),
    "SA-DEP2": lambda stack: _cfn(stack.function).add_property_deletion_override("LoggingConfig.LogGroup"),
    "SA-DEP3": lambda stack: _cfn(stack.api.deployment_stage).add_override("DependsOn", []),
    "SA-DEP4": lambda stack: _cfn(stack.api_gateway_cloudwatch_role).add_property_override(
        "Policies.0.PolicyDocument.Statement.0.Action", ["logs:CreateLogStream", "logs:PutLogEvents"]
    ),
    "SA-DEP5": lambda stack: _code_deployment_handler(stack).add_override("DependsOn", []),
    "SA-DEP6": lambda stack: [  # the copy and its CLI layer (which the copy's handler references)
        part.add_override("DependsOn", [])
        for part in stack.code_deployment.node.find_all()
        if isinstance(part, CfnResource)
    ],
    "SA-DEP7": lambda stack: _cfn(stack.artifacts_bucket).add_property_override("BucketName", "items-artifacts"),
    "SA-DEP8": lambda stack: _cfn(stack.function).add_property_override("ReservedConcurrentExecutions", 5),
    "SA-DEP9": lambda stack: _cfn(stack.function).add_property_override(
        "Code.S3Bucket", {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    ),
    "SA-DEP10": lambda stack: _cfn(stack.function).add_property_deletion_override("Code.S3ObjectVersion"),
    "SA-DEP11": lambda stack: _cfn(stack.alarm_topic.node.find_child("Policy")).add_property_deletion_override(
        "PolicyDocument.Statement.1"
    ),
    "SA-SEC1": lambda stack: stack.function.add_environment("DB_PASSWORD", "hunter2"),
    "SA-OBS5": lambda stack: _cfn(stack.error_rate_alarm).add_property_deletion_override("AlarmActions"),
    "SA-IAM5": lambda stack: lambda_.Function(
        stack,
        "SecondFunction",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="second.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        role=stack.function_role,
    ),
    "SA-DATA1": lambda stack: _cfn(stack.table).add_property_override(
        "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", False
    ),
    "SA-DATA2": lambda stack: _cfn(stack.table).add_property_override("SSESpecification.SSEEnabled", False),
    "SA-DATA3": lambda stack: _cfn(stack.table).add_override("UpdateReplacePolicy", "Retain"),
    "SA-DATA4": lambda stack: [
        _cfn(stack.table).add_property_override("StreamSpecification.StreamViewType", "NEW_IMAGE"),
        lambda_.EventSourceMapping(
            stack,
            "UnboundedStream",
            target=stack.function,
            event_source_arn=_cfn(stack.table).attr_stream_arn,
            starting_position=lambda_.StartingPosition.LATEST,
        ),
    ],
}


def _defined_rules() -> set[type[PolicyRule]]:
    """Every PolicyRule subclass defined in a family module of policies/rules/."""
    return {
        value
        for family in rules.FAMILIES
        for _, value in inspect.getmembers(family, inspect.isclass)
        if issubclass(value, PolicyRule) and value is not PolicyRule and value.__module__ == family.__name__
    }


def test_every_rule_class_is_registered():
    assert _defined_rules() == set(registered())


def test_every_family_module_is_listed():
    modules = {path.stem for path in Path(rules.__path__[0]).glob("*.py")} - {"__init__"}
    assert modules == {family.__name__.rsplit(".", 1)[1] for family in rules.FAMILIES}


def test_every_rule_has_an_id_of_its_family_a_docstring_and_a_fix():
    for rule in registered():
        match = engine.RULE_ID.fullmatch(rule.rule_id)
        assert match and match["family"] == sys.modules[rule.__module__].FAMILY, rule.rule_id
        assert rule.__doc__ and rule.fix, rule.__name__


def test_the_registry_refuses_an_id_out_of_format_and_a_duplicate():
    class Misfiled(PolicyRule):
        rule_id = "SA-Tags1"
        fix = "x"

    Misfiled.__module__ = "policies.rules.tags"
    with pytest.raises(ValueError, match="must be SA-TAG<n>"):
        engine.register(Misfiled)
    Misfiled.rule_id = "SA-TAG1"
    with pytest.raises(ValueError, match="already RequiredTags's"):
        engine.register(Misfiled)


def test_every_registered_rule_has_a_real_stack_break():
    assert set(REAL_STACK_BREAKS) == {rule.rule_id for rule in registered()}


@pytest.mark.parametrize("rule", registered(), ids=lambda rule: rule.rule_id)
def test_the_real_stack_broken_for_a_rule_fails_synthesis_with_that_rule(tmp_path, rule):
    violations = synth_real_with(tmp_path, REAL_STACK_BREAKS[rule.rule_id])
    assert rule.finding_id() in violations
