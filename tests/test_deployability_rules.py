"""Deployability rules: each passes a compliant minimal stack, rejects a non-compliant one, and fails
synthesis of the real stack when that stack is broken once in the way the rule guards against."""

import pytest
from aws_cdk import CustomResource, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from test_policies import policy_findings, role_with, secure_bucket, traced_function

from conventions import API_GATEWAY_LOGGING_ACTIONS
from policies.rules import deployability
from policies.rules.iam import UnscopedResourcesOnlyWhereUnavoidable
from policies.rules.observability import StageTracingAccessLogsThrottling
from policies.rules.secrets import NoSecretsInEnvironment


def findings_of(tmp_path, rule, build) -> list[dict]:
    """Open findings of one rule on a minimal stack (only that rule runs, so others cannot mask it)."""
    return [f for f in policy_findings(tmp_path, build, rules=(rule,)) if f["rule"] == rule.rule_id]


def logged_function(stack, construct_id="Fn", **overrides):
    group = logs.LogGroup(stack, f"{construct_id}Group", removal_policy=RemovalPolicy.DESTROY)
    return traced_function(stack, construct_id, **{"log_group": group, **overrides})


def logging_api(stack, *, with_account=True, with_group=True, role_actions=sorted(API_GATEWAY_LOGGING_ACTIONS)):
    api = apigateway.RestApi(
        stack,
        "Api",
        cloud_watch_role=False,
        deploy_options=apigateway.StageOptions(logging_level=apigateway.MethodLoggingLevel.ERROR),
    )
    api.root.add_method("GET", apigateway.MockIntegration())
    if with_account:
        role = iam.Role(
            stack,
            "ApiLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            inline_policies={
                "Logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=role_actions, resources=[stack.format_arn(service="logs", resource="*")]
                        )
                    ]
                )
            },
        )
        account = apigateway.CfnAccount(stack, "Account", cloud_watch_role_arn=role.role_arn)
        account.node.add_dependency(api.node.default_child)
        api.deployment_stage.node.add_dependency(account)
    if with_group:
        group = logs.LogGroup(
            stack,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{api.rest_api_id}/prod",
            removal_policy=RemovalPolicy.DESTROY,
        )
        api.deployment_stage.node.add_dependency(group)
    return api


# SA-DEP1 nothing retained ---------------------------------------------------------------------------------------


def test_nothing_retained_accepts_destroyable_resources(tmp_path):
    assert not findings_of(tmp_path, deployability.NothingRetained, lambda s: secure_bucket(s))


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda s: secure_bucket(s, removal_policy=RemovalPolicy.RETAIN), "DeletionPolicy is Retain"),
        (lambda s: secure_bucket(s, removal_policy=RemovalPolicy.SNAPSHOT), "DeletionPolicy is Snapshot"),
        (
            lambda s: dynamodb.Table(
                s,
                "Table",
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                deletion_protection=True,
                removal_policy=RemovalPolicy.DESTROY,
            ),
            "DeletionProtectionEnabled is on",
        ),
        (lambda s: secure_bucket(s, object_lock_enabled=True), "Object Lock"),
    ],
    ids=["retain", "snapshot", "deletion-protection", "object-lock"],
)
def test_nothing_retained_rejects_what_outlives_the_stack(tmp_path, build, expected):
    [finding] = findings_of(tmp_path, deployability.NothingRetained, build)
    assert expected in finding["message"]


# SA-DEP2 function logs to a log group of the stack ----------------------------------------------------------


def test_function_log_group_rule_accepts_a_stack_log_group(tmp_path):
    assert not findings_of(tmp_path, deployability.FunctionLogsToStackLogGroup, lambda s: logged_function(s))


def test_function_log_group_rule_rejects_the_implicit_lambda_group(tmp_path):
    build = lambda s: traced_function(s, log_group=None)  # noqa: E731
    [finding] = findings_of(tmp_path, deployability.FunctionLogsToStackLogGroup, build)
    assert finding["path"] == "Minimal/Fn/Resource"


# SA-DEP3 stage waits for the account role and its execution log group ------------------------------------


def test_stage_logging_rule_accepts_account_and_group_dependencies(tmp_path):
    assert not findings_of(tmp_path, deployability.StageWaitsForLoggingSetup, lambda s: logging_api(s))


def test_stage_logging_rule_rejects_a_stage_without_the_account(tmp_path):
    [finding] = findings_of(
        tmp_path, deployability.StageWaitsForLoggingSetup, lambda s: logging_api(s, with_account=False)
    )
    assert "AWS::ApiGateway::Account" in finding["message"]


def test_stage_logging_rule_rejects_a_stage_without_its_execution_log_group(tmp_path):
    [finding] = findings_of(
        tmp_path, deployability.StageWaitsForLoggingSetup, lambda s: logging_api(s, with_group=False)
    )
    assert "API-Gateway-Execution-Logs_" in finding["message"]


# SA-DEP4 the account's CloudWatch role can log ------------------------------------------------------------


def test_account_role_rule_accepts_the_seven_actions_on_the_accounts_log_groups(tmp_path):
    assert not findings_of(tmp_path, deployability.ApiGatewayAccountRoleCanLog, lambda s: logging_api(s))


def test_account_role_rule_rejects_a_narrower_role(tmp_path):
    narrow = ["logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    [finding] = findings_of(
        tmp_path, deployability.ApiGatewayAccountRoleCanLog, lambda s: logging_api(s, role_actions=narrow)
    )
    assert "logs:CreateLogGroup, logs:FilterLogEvents, logs:GetLogEvents" in finding["message"]


def test_account_role_rule_rejects_an_account_that_does_not_wait_for_the_api(tmp_path):
    def build(stack):
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
        role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        )
        apigateway.CfnAccount(stack, "Account", cloud_watch_role_arn=role.role_arn)

    [finding] = findings_of(tmp_path, deployability.ApiGatewayAccountRoleCanLog, build)
    assert "does not depend on a RestApi" in finding["message"]


# SA-DEP5 custom resources are deleted before their providers ----------------------------------------------


def provider_stack(stack, *, late_policy: bool):
    function = logged_function(stack, "Provider")
    if late_policy:
        # A policy attached after the fact: the function does not depend on it, so nor does the resource.
        iam.Policy(
            stack,
            "LatePolicy",
            roles=[function.role],
            statements=[iam.PolicyStatement(actions=["s3:ListBucket"], resources=["arn:aws:s3:::example"])],
        )
    CustomResource(stack, "Custom", service_token=function.function_arn)


def test_custom_resource_rule_accepts_a_provider_that_outlives_it(tmp_path):
    build = lambda s: provider_stack(s, late_policy=False)  # noqa: E731
    assert not findings_of(tmp_path, deployability.CustomResourceDeletedBeforeItsProvider, build)


def test_custom_resource_rule_rejects_a_provider_policy_deleted_first(tmp_path):
    build = lambda s: provider_stack(s, late_policy=True)  # noqa: E731
    [finding] = findings_of(tmp_path, deployability.CustomResourceDeletedBeforeItsProvider, build)
    assert "LatePolicy" in finding["message"]


# SA-DEP6 bucket writers sit inside the bucket's auto-delete ----------------------------------------------


def bucket_writer_stack(stack, *, auto_delete: bool, ordered: bool):
    bucket = secure_bucket(stack, auto_delete_objects=auto_delete)
    deployment = s3_deployment.BucketDeployment(
        stack, "Copy", sources=[s3_deployment.Source.data("code.txt", "x")], destination_bucket=bucket
    )
    if ordered:
        deployment.node.add_dependency(bucket.node.find_child("AutoDeleteObjectsCustomResource"))


def test_bucket_writer_rule_accepts_a_copy_that_waits_for_auto_delete(tmp_path):
    build = lambda s: bucket_writer_stack(s, auto_delete=True, ordered=True)  # noqa: E731
    assert not findings_of(tmp_path, deployability.BucketWritersInsideAutoDelete, build)


@pytest.mark.parametrize(
    "auto_delete, expected", [(True, "does not depend on its auto-delete"), (False, "has no auto-delete")]
)
def test_bucket_writer_rule_rejects_an_unordered_or_undeletable_copy(tmp_path, auto_delete, expected):
    build = lambda s: bucket_writer_stack(s, auto_delete=auto_delete, ordered=False)  # noqa: E731
    [finding] = findings_of(tmp_path, deployability.BucketWritersInsideAutoDelete, build)
    assert expected in finding["message"]


# SA-DEP7 no colliding physical names ---------------------------------------------------------------------


def test_physical_name_rule_accepts_a_name_built_from_a_generated_id(tmp_path):
    build = lambda s: logging_api(s, with_account=False)  # noqa: E731
    assert not findings_of(tmp_path, deployability.NoCollidingPhysicalNames, build)


def test_physical_name_rule_rejects_a_fixed_name(tmp_path):
    build = lambda s: secure_bucket(s, bucket_name="serverless-automation-artifacts")  # noqa: E731
    [finding] = findings_of(tmp_path, deployability.NoCollidingPhysicalNames, build)
    assert "BucketName is fixed (serverless-automation-artifacts)" in finding["message"]


# SA-DEP8 no reserved concurrency -------------------------------------------------------------------------


def test_reserved_concurrency_rule(tmp_path):
    assert not findings_of(tmp_path / "ok", deployability.NoReservedConcurrency, lambda s: logged_function(s))
    build = lambda s: logged_function(s, reserved_concurrent_executions=5)  # noqa: E731
    [finding] = findings_of(tmp_path / "bad", deployability.NoReservedConcurrency, build)
    assert "(5)" in finding["message"]


# SA-DEP9 / SA-DEP10 the application's code -----------------------------------------------------------------


def code_from_bucket(stack, *, versioned=True, with_version=True):
    bucket = secure_bucket(stack, versioned=versioned)
    version = "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" if with_version else None
    return logged_function(stack, code=lambda_.Code.from_bucket(bucket, "lambda/code.zip", version))


def test_code_source_rule_accepts_a_bucket_of_the_stack_and_ignores_providers(tmp_path):
    def build(stack):
        code_from_bucket(stack)
        provider = logged_function(stack, "Provider")
        CustomResource(stack, "Custom", service_token=provider.function_arn)

    assert not findings_of(tmp_path, deployability.ApplicationCodeFromStackBucket, build)


def test_code_source_rule_rejects_code_from_elsewhere(tmp_path):
    [finding] = findings_of(tmp_path, deployability.ApplicationCodeFromStackBucket, lambda s: logged_function(s))
    assert "bucket of this stack" in finding["message"]


def test_code_version_rule_accepts_a_versioned_object(tmp_path):
    assert not findings_of(tmp_path, deployability.ApplicationCodeVersionPinned, lambda s: code_from_bucket(s))


def test_code_version_rule_rejects_an_unversioned_bucket_and_object(tmp_path):
    build = lambda s: code_from_bucket(s, versioned=False, with_version=False)  # noqa: E731
    messages = [f["message"] for f in findings_of(tmp_path, deployability.ApplicationCodeVersionPinned, build)]
    assert len(messages) == 2
    assert "is not versioned" in messages[0] and "S3ObjectVersion is not set" in messages[1]


# SA-SEC1 no secrets in the environment -------------------------------------------------------------------


def test_secret_environment_rule_accepts_configuration_and_secret_references(tmp_path):
    build = lambda s: logged_function(s, environment={"TABLE_NAME": "t", "DB_SECRET_ARN": "arn:aws:secretsmanager:x"})  # noqa: E731
    assert not findings_of(tmp_path, NoSecretsInEnvironment, build)


@pytest.mark.parametrize("name", ["DB_PASSWORD", "CLIENT_SECRET", "GITHUB_TOKEN", "STRIPE_API_KEY", "PRIVATE_KEY"])
def test_secret_environment_rule_rejects_secret_like_names(tmp_path, name):
    build = lambda s: logged_function(s, environment={name: "hunter2"})  # noqa: E731
    [finding] = findings_of(tmp_path, NoSecretsInEnvironment, build)
    assert name in finding["message"]


# SA-OBS4 stage tracing, access log and throttling ---------------------------------------------------------


def test_stage_rule_accepts_a_traced_logged_throttled_stage(tmp_path):
    def build(stack):
        api = apigateway.RestApi(
            stack,
            "Api",
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(logs.LogGroup(stack, "Access")),
                throttling_rate_limit=10,
                throttling_burst_limit=20,
            ),
        )
        api.root.add_method("GET", apigateway.MockIntegration())

    assert not findings_of(tmp_path, StageTracingAccessLogsThrottling, build)


def test_stage_rule_rejects_a_bare_stage(tmp_path):
    def build(stack):
        api = apigateway.RestApi(stack, "Api", cloud_watch_role=False)
        api.root.add_method("GET", apigateway.MockIntegration())

    messages = {f["message"].split(": ", 1)[1] for f in findings_of(tmp_path, StageTracingAccessLogsThrottling, build)}
    assert messages == {
        "stage has no X-Ray tracing",
        "stage has no access log",
        "stage has no throttling (rate and burst) for all methods",
    }


# SA-IAM2 treats a whole service in the account like "*", except API Gateway's logging role ----------------


def test_unscoped_resource_rule_rejects_a_whole_service_in_the_account(tmp_path):
    def build(stack):
        statement = iam.PolicyStatement(
            actions=["logs:PutLogEvents"], resources=[stack.format_arn(service="logs", resource="*")]
        )
        role_with(stack, statement)

    [finding] = findings_of(tmp_path, UnscopedResourcesOnlyWhereUnavoidable, build)
    assert "logs:PutLogEvents on arn:${AWS::Partition}:logs:" in finding["message"]


def test_unscoped_resource_rule_allows_api_gateway_logging_on_the_account_role_only(tmp_path):
    assert not findings_of(tmp_path / "ok", UnscopedResourcesOnlyWhereUnavoidable, lambda s: logging_api(s))
    build = lambda s: logging_api(s, role_actions=[*API_GATEWAY_LOGGING_ACTIONS, "logs:DeleteLogGroup"])  # noqa: E731
    [finding] = findings_of(tmp_path / "extra", UnscopedResourcesOnlyWhereUnavoidable, build)
    assert "logs:DeleteLogGroup" in finding["message"]


# The real stack, broken once per rule, fails synthesis ------------------------------------------------------


# SA-DEP11 an alarm's topic lets CloudWatch publish ------------------------------------------------------------


def alarm_to_topic(stack, *, allow_cloudwatch=True, allow_for="this", encrypt_with_sns_key=False):
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    key = kms.Alias.from_alias_name(stack, "SnsKey", "alias/aws/sns") if encrypt_with_sns_key else None
    topic = sns.Topic(stack, "Topic", enforce_ssl=True, master_key=key)
    metric = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors")
    alarm = cloudwatch.Alarm(stack, "Alarm", metric=metric, threshold=1, evaluation_periods=1)
    other = cloudwatch.Alarm(stack, "Other", metric=metric, threshold=2, evaluation_periods=1)
    if allow_cloudwatch:
        source = alarm if allow_for == "this" else other
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": source.alarm_arn}},
            )
        )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))


def test_dep11_passes_a_topic_whose_policy_lets_cloudwatch_publish_for_the_alarm(tmp_path):
    assert not findings_of(tmp_path, deployability.AlarmTopicsLetCloudWatchPublish, alarm_to_topic)


def test_dep11_rejects_a_topic_policy_with_only_the_tls_deny(tmp_path):
    findings = findings_of(
        tmp_path, deployability.AlarmTopicsLetCloudWatchPublish, lambda s: alarm_to_topic(s, allow_cloudwatch=False)
    )
    assert [f["path"].split("/")[1] for f in findings] == ["Alarm"]
    assert "cloudwatch.amazonaws.com" in findings[0]["message"]


def test_dep11_rejects_a_grant_for_another_alarm_only(tmp_path):
    findings = findings_of(
        tmp_path, deployability.AlarmTopicsLetCloudWatchPublish, lambda s: alarm_to_topic(s, allow_for="other")
    )
    assert [f["path"].split("/")[1] for f in findings] == ["Alarm"]


def test_dep11_rejects_a_topic_encrypted_with_the_aws_managed_sns_key(tmp_path):
    findings = findings_of(
        tmp_path,
        deployability.AlarmTopicsLetCloudWatchPublish,
        lambda s: alarm_to_topic(s, encrypt_with_sns_key=True),
    )
    assert findings and "alias/aws/sns" in findings[0]["message"]
