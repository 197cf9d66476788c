"""The policy gate: each rule passes a compliant minimal stack and rejects a non-compliant one, the real
stack passes, and a violation freshly introduced into the real stack fails synthesis."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Acknowledgment, App, CfnResource, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from app import STACK_ID, build_app
from config import LOG_RETENTION_DAYS, ServiceConfig
from conventions import apply_tags
from policies.engine import PLUGIN_NAME, PolicyRule
from policies.pack import ProjectPolicies, apply_policies
from policies.rules.data import TablePointInTimeRecovery
from policies.rules.iam import (
    InvokePermissionScopedToApi,
    NoAwsManagedPolicies,
    NoWildcardActions,
    UnscopedResourcesOnlyWhereUnavoidable,
)
from policies.rules.observability import FunctionActiveTracing, LogGroupRetention, NoApiDataTracing
from policies.rules.s3 import BucketBlocksPublicAccess, BucketDeniesInsecureTransport, BucketSseS3
from policies.rules.tags import RequiredTags
from policies.validation_report import ValidationReport

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The rules about one resource's own properties: minimal stacks here break exactly one of them at a time.
SECURITY_RULES: tuple[type[PolicyRule], ...] = (
    RequiredTags,
    BucketSseS3,
    BucketBlocksPublicAccess,
    BucketDeniesInsecureTransport,
    NoWildcardActions,
    UnscopedResourcesOnlyWhereUnavoidable,
    NoAwsManagedPolicies,
    InvokePermissionScopedToApi,
    NoApiDataTracing,
    LogGroupRetention,
    FunctionActiveTracing,
)


def policy_findings(
    tmp_path, build, *, tagged=True, plugin_name=PLUGIN_NAME, nag=False, rules=SECURITY_RULES, config=None
) -> list[dict]:
    """Synthesize a minimal stack made by build(stack) under the gate (cdk-nag or the given project rules);
    the open findings of one plugin."""
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    build(Stack(app, "Minimal"))
    if tagged:
        apply_tags(app)
    if nag:
        apply_policies(app, config)
    else:
        Validations.of(app).add_plugins(ProjectPolicies(rules, config))
    failed = False
    try:
        app.synth()
    except RuntimeError as error:
        assert "ValidationFailed" in str(error)
        failed = True
    report = ValidationReport.read(tmp_path / "validation-report.json")
    findings = [
        {"rule": f.rule, "path": f.construct_path, "message": f.description, "fix": f.fix}
        for f in report.open_of(plugin_name)
    ]
    assert failed == any(f.severity == "error" for f in report.open), (
        "synthesis must fail exactly when there is an open error"
    )
    return findings


def rules_hit(findings) -> set[str]:
    return {f["rule"] for f in findings}


def secure_bucket(stack, construct_id="Bucket", **overrides):
    options = dict(
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return s3.Bucket(stack, construct_id, **{**options, **overrides})


def role_with(stack, *statements, managed=()):
    return iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={"Inline": iam.PolicyDocument(statements=list(statements))} if statements else None,
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in managed],
    )


def traced_function(stack, construct_id="Fn", **overrides):
    options = dict(
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=logs.LogGroup(stack, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_MONTH),
        role=iam.Role(stack, f"{construct_id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")),
    )
    return lambda_.Function(stack, construct_id, **{**options, **overrides})


# The real stack ---------------------------------------------------------------------------------------------


def test_real_stack_passes_every_plugin(synth):
    assert {"AwsSolutions", "Serverless", PLUGIN_NAME} <= {plugin.name for plugin in synth.report.plugins}
    assert {plugin.conclusion for plugin in synth.report.plugins} == {"success"}
    assert not synth.report.open


# SA-TAG1 ---------------------------------------------------------------------------------------------------


def test_tags_rule_accepts_tagged_resources_including_raw_cfn_resources(tmp_path):
    def build(stack):
        secure_bucket(stack)
        CfnResource(stack, "RawQueue", type="AWS::SQS::Queue")

    assert "SA-TAG1" not in rules_hit(policy_findings(tmp_path, build))


def test_tags_rule_rejects_an_untagged_resource(tmp_path):
    findings = policy_findings(tmp_path, lambda stack: secure_bucket(stack), tagged=False)
    [finding] = [f for f in findings if f["rule"] == "SA-TAG1"]
    assert finding["path"] == "Minimal/Bucket/Resource"
    assert "Minimal/Bucket/Resource" in finding["message"] and "project=serverless-automation" in finding["message"]
    assert "apply_tags" in finding["fix"]


def test_tags_rule_rejects_a_raw_resource_that_tags_of_does_not_reach(tmp_path):
    def build(stack):
        CfnResource(stack, "RawQueue", type="AWS::SQS::Queue")
        Tags.of(stack).add("project", "serverless-automation")
        Tags.of(stack).add("environment", "production")

    findings = policy_findings(tmp_path, build, tagged=False)
    assert [f["path"] for f in findings if f["rule"] == "SA-TAG1"] == ["Minimal/RawQueue"]


def test_tags_rule_rejects_a_wrong_tag_value(tmp_path):
    def build(stack):
        secure_bucket(stack)
        Tags.of(stack).add("environment", "staging", priority=500)

    assert "SA-TAG1" in rules_hit(policy_findings(tmp_path, build))


# SA-S1 / 2 / 3 --------------------------------------------------------------------------------------------


def test_sse_s3_rule_accepts_a_secure_bucket(tmp_path):
    assert not rules_hit(policy_findings(tmp_path, lambda stack: secure_bucket(stack)))


def test_sse_s3_rule_rejects_kms_encryption(tmp_path):
    findings = policy_findings(tmp_path, lambda s: secure_bucket(s, encryption=s3.BucketEncryption.KMS_MANAGED))
    assert rules_hit(findings) == {"SA-S1"}


def test_public_access_rule_rejects_a_bucket_that_allows_public_policies(tmp_path):
    block = s3.BlockPublicAccess(
        block_public_acls=True, ignore_public_acls=True, block_public_policy=False, restrict_public_buckets=False
    )
    findings = policy_findings(tmp_path, lambda s: secure_bucket(s, block_public_access=block))
    assert rules_hit(findings) == {"SA-S2"}
    assert "BlockPublicPolicy" in findings[0]["message"]


def test_tls_rule_rejects_a_bucket_without_a_tls_only_policy(tmp_path):
    findings = policy_findings(tmp_path, lambda s: secure_bucket(s, enforce_ssl=False))
    assert rules_hit(findings) == {"SA-S3"}


# SA-IAM1 / 2 / 3 / 4 ----------------------------------------------------------------------------------------


def test_iam_rules_accept_named_actions_on_named_resources_and_xray_on_star(tmp_path):
    def build(stack):
        queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
        role_with(
            stack,
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
            iam.PolicyStatement(actions=["xray:PutTraceSegments"], resources=["*"]),
        )

    assert not rules_hit(policy_findings(tmp_path, build))


@pytest.mark.parametrize("action", ["*", "dynamodb:*"])
def test_wildcard_action_rule_rejects_star_and_service_star(tmp_path, action):
    def build(stack):
        queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
        role_with(stack, iam.PolicyStatement(actions=[action], resources=[queue.queue_arn]))

    findings = policy_findings(tmp_path, build)
    assert rules_hit(findings) == {"SA-IAM1"}
    assert action in findings[0]["message"]


def test_wildcard_action_rule_also_checks_attached_policies(tmp_path):
    def build(stack):
        role = role_with(stack)
        role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["arn:aws:s3:::example"]))

    findings = policy_findings(tmp_path, build)
    assert [f["path"] for f in findings if f["rule"] == "SA-IAM1"] == ["Minimal/Role/DefaultPolicy/Resource"]


def test_unscoped_resource_rule_rejects_scopable_actions_on_star(tmp_path):
    build = lambda stack: role_with(stack, iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=["*"]))  # noqa: E731
    findings = policy_findings(tmp_path, build)
    assert rules_hit(findings) == {"SA-IAM2"}
    assert "dynamodb:GetItem" in findings[0]["message"]


def test_managed_policy_rule_rejects_aws_managed_policies(tmp_path):
    build = lambda stack: role_with(stack, managed=["service-role/AWSLambdaBasicExecutionRole"])  # noqa: E731
    findings = policy_findings(tmp_path, build)
    assert rules_hit(findings) == {"SA-IAM3"}
    assert "AWSLambdaBasicExecutionRole" in findings[0]["message"]


def test_invoke_permission_rule_accepts_lambda_integration_and_rejects_unscoped(tmp_path):
    def scoped(stack):
        api = apigateway.RestApi(stack, "Api", deploy_options=apigateway.StageOptions(tracing_enabled=True))
        api.root.add_method("GET", apigateway.LambdaIntegration(traced_function(stack)))

    assert "SA-IAM4" not in rules_hit(policy_findings(tmp_path / "scoped", scoped))

    def unscoped(stack):
        traced_function(stack).add_permission(
            "Anyone", principal=iam.ServicePrincipal("apigateway.amazonaws.com"), action="lambda:InvokeFunction"
        )

    assert "SA-IAM4" in rules_hit(policy_findings(tmp_path / "unscoped", unscoped))


# SA-OBS1 / 2 / 3 --------------------------------------------------------------------------------------------


def test_data_tracing_rule_rejects_a_stage_that_logs_bodies(tmp_path):
    def build(stack):
        api = apigateway.RestApi(
            stack, "Api", deploy_options=apigateway.StageOptions(data_trace_enabled=True), cloud_watch_role=False
        )
        api.root.add_method("GET", apigateway.MockIntegration())

    findings = policy_findings(tmp_path, build)
    assert rules_hit(findings) == {"SA-OBS1"}
    assert findings[0]["path"] == "Minimal/Api/DeploymentStage.prod/Resource"


def test_retention_rule_rejects_a_log_group_kept_forever(tmp_path):
    build = lambda stack: logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.INFINITE)  # noqa: E731
    assert rules_hit(policy_findings(tmp_path, build)) == {"SA-OBS2"}


# Every value AWS::Logs::LogGroup's RetentionInDays admits (CloudFormation resource reference).
CLOUDWATCH_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


@pytest.mark.parametrize("configured", LOG_RETENTION_DAYS)
def test_retention_rule_holds_every_log_group_to_the_configured_days_and_nothing_else(tmp_path, configured):
    """Every value log_retention_days admits, against every retention CloudWatch Logs accepts and CDK's default."""
    assert set(LOG_RETENTION_DAYS) <= set(CLOUDWATCH_RETENTION_DAYS)

    def build(stack):
        logs.LogGroup(stack, "CdkDefault")  # CDK's default retention: 731 days
        for days in CLOUDWATCH_RETENTION_DAYS:
            logs.CfnLogGroup(stack, f"Kept{days}", retention_in_days=days)

    findings = policy_findings(
        tmp_path, build, rules=(LogGroupRetention,), config=ServiceConfig(log_retention_days=configured)
    )
    flagged = {finding["path"].split("/")[1] for finding in findings}
    assert flagged == ({f"Kept{days}" for days in CLOUDWATCH_RETENTION_DAYS} | {"CdkDefault"}) - {f"Kept{configured}"}
    assert all(f"log_retention_days is {configured}" in finding["message"] for finding in findings)


def test_tracing_rule_accepts_active_and_rejects_untraced_functions(tmp_path):
    assert not rules_hit(policy_findings(tmp_path / "traced", lambda s: traced_function(s)))
    untraced = policy_findings(tmp_path / "untraced", lambda s: traced_function(s, tracing=lambda_.Tracing.DISABLED))
    assert rules_hit(untraced) == {"SA-OBS3"}


# A violation freshly introduced into the real stack fails synthesis --------------------------------------------


def synth_real_with(tmp_path, mutate) -> dict:
    app = build_app(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    mutate(app.node.find_child(STACK_ID))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    violations: dict[str, list[str]] = {}
    for finding in ValidationReport.read(tmp_path / "validation-report.json").open:
        violations.setdefault(finding.finding_id, []).append(finding.construct_path)
    return violations


def test_real_stack_with_a_new_cdk_nag_finding_fails(tmp_path):
    def mutate(stack):
        sqs.Queue(stack, "UnplannedQueue", retention_period=Duration.days(1))

    violations = synth_real_with(tmp_path, mutate)
    assert violations["AwsSolutions::AwsSolutions-SQS3"] == [f"{STACK_ID}/UnplannedQueue/Resource"]


def test_a_cdk_nag_warning_alone_fails_synthesis(tmp_path):
    """CDK lets warnings through by default; the app turns them into refusals. Our own rule on the same
    mistake is acknowledged here, so only cdk-nag's warning (AwsSolutions-DDB3) is left to refuse it."""

    def mutate(stack):
        stack.table.node.default_child.point_in_time_recovery_specification = None
        Validations.of(stack.table).acknowledge(
            Acknowledgment(id=TablePointInTimeRecovery.finding_id(), reason="left to cdk-nag's warning in this test")
        )

    violations = synth_real_with(tmp_path, mutate)
    assert violations == {"AwsSolutions::AwsSolutions-DDB3": [f"{STACK_ID}/ItemsTable/Resource"]}
    [finding] = ValidationReport.read(tmp_path / "validation-report.json").open
    assert finding.severity == "warning"
    assert finding.fix.startswith("Change the construct so that AwsSolutions-DDB3 passes") and "RULES.md" in finding.fix


def test_a_refused_synthesis_prints_the_findings_and_one_closing_line_without_a_traceback(tmp_path):
    """`python app.py` (what `cdk synth` and `cdk deploy` run) on a stack with one broken rule."""
    prelude = (
        "import main\n"
        "build = main.ServerlessBackendStack._build_function\n"
        "def untraced(self):\n"
        "    function = build(self)\n"
        "    function.node.default_child.add_property_override('TracingConfig.Mode', 'PassThrough')\n"
        "    return function\n"
        "main.ServerlessBackendStack._build_function = untraced\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"{prelude}import app\napp.main(['-o', {str(tmp_path)!r}])"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        # As from a shell: under pytest CDK would put the report into the exception instead of printing it.
        env={name: value for name, value in os.environ.items() if not name.startswith("PYTEST")},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "jsii" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: synthesis refused: 1 unacknowledged finding (above).")
    fix, acknowledge = (result.stderr.index(marker) for marker in ("Suggested fix:", "Acknowledge with"))
    assert fix < acknowledge, "the rule's fix comes before the way to acknowledge it"


def test_the_table_rules_hold_tablev2_global_tables_too(tmp_path):
    """CDK's TableV2 renders AWS::DynamoDB::GlobalTable, with point-in-time recovery per replica."""
    from aws_cdk import aws_dynamodb as dynamodb

    from policies.rules.data import TableEncryptedWithKms, TablePointInTimeRecovery, TableRemovalFollowsRetainData

    rules = (TablePointInTimeRecovery, TableEncryptedWithKms, TableRemovalFollowsRetainData)

    def bare(stack):
        dynamodb.TableV2(stack, "Global", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING))

    def kept(stack):
        dynamodb.TableV2(
            stack,
            "Global",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            removal_policy=RemovalPolicy.DESTROY,
        )

    assert rules_hit(policy_findings(tmp_path / "bare", bare, rules=rules)) == {"SA-DATA1", "SA-DATA2", "SA-DATA3"}
    assert not policy_findings(tmp_path / "kept", kept, rules=rules)


@pytest.mark.parametrize(
    "resource, unscoped",
    [
        ("arn:aws:dynamodb:us-east-1:123456789012:table/*", True),
        ("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*", True),
        ("arn:aws:lambda:us-east-1:123456789012:function:*", True),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Items/index/*", False),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/Items", False),
        ("arn:aws:s3:::artifacts-bucket/*", False),
    ],
)
def test_a_wildcard_where_the_name_goes_is_unscoped(tmp_path, resource, unscoped):
    def build(stack):
        role_with(stack, iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[resource]))

    hit = rules_hit(policy_findings(tmp_path, build, rules=(UnscopedResourcesOnlyWhereUnavoidable,)))
    assert hit == ({"SA-IAM2"} if unscoped else set())
