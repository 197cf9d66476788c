"""The whole serverless backend as one CDK stack: API Gateway (REST) -> Lambda -> DynamoDB.

Reads top to bottom in the order the request flows and is watched: artifacts bucket, table, role, function,
API, logs, alarm.
Tags and policy checks are applied to the app in app.py, so they cover every construct, CDK's own included.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import (
    CfnOutput,
    CfnResource,
    CustomResourceProviderBase,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from constructs import Construct

from api import contract
from api.cdk_models import cdk_json_schema
from config import ServiceConfig
from conventions import API_GATEWAY_LOGGING_ACTIONS

LAMBDA_SOURCE = Path(__file__).parent / "lambda"
LAMBDA_PACKAGE_EXCLUDES = ["__pycache__", "*.pyc", ".pytest_cache"]
CODE_KEY_PREFIX = "lambda/"
NONCURRENT_CODE_DAYS = 30

# config.LOG_RETENTION_DAYS as CDK's retention values (tests/test_config.py keeps the two equal).
LOG_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}

# The DynamoDB actions lambda/repository.py calls; tests/test_least_privilege.py proves the two agree.
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"]


# CDK's custom-resource handlers run during stack deletion, after their log group may be gone; with
# AWSLambdaBasicExecutionRole they would recreate it without retention (aws-cdk#31487, aws-cdk#32689).
DENY_LOG_GROUP_CREATION = iam.PolicyStatement(
    sid="KeepDeletedLogGroupsDeleted", effect=iam.Effect.DENY, actions=["logs:CreateLogGroup"], resources=["*"]
)


def _raw_child(provider: CustomResourceProviderBase, resource_type: str) -> CfnResource:
    return next(
        c for c in provider.node.children if isinstance(c, CfnResource) and c.cfn_resource_type == resource_type
    )


def _resource_for(resources: dict, path: str) -> apigateway.IResource:
    """The API resource of `path`, creating it and its parents on first use (construct id: the path part)."""
    if path not in resources:
        parent, _, part = path.rpartition("/")
        resources[path] = _resource_for(resources, parent or "/").add_resource(part)
    return resources[path]


class ServerlessBackendStack(Stack):
    """API Gateway REST API -> one Python Lambda -> one DynamoDB table, with the code served from S3."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ServiceConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config

        self.artifacts_bucket = self._build_artifacts_bucket()
        self._build_provider_logging()
        self.code_deployment = self._build_code_deployment()
        self.table = self._build_table("ItemsTable")
        self.function_log_group = self._build_log_group("FunctionLogGroup")
        self.function_role = self._build_function_role()
        self.function = self._build_function()
        self.api_access_log_group = self._build_log_group("ApiAccessLogGroup")
        self.api = self._build_api()
        self.api_gateway_cloudwatch_role = self._build_api_gateway_cloudwatch_role()
        self.api_execution_log_group = self._build_api_execution_logging()
        self.alarm_topic = self._build_alarm_topic()
        self.error_rate_alarm = self._build_error_rate_alarm(self.function, "FunctionErrorRateAlarm", "Items function")
        self._build_outputs()

    def custom_resource_providers(self) -> list[CustomResourceProviderBase]:
        """CDK's stack-level singleton providers (raw CfnResources), found by type rather than by hashed path."""
        return [child for child in self.node.children if isinstance(child, CustomResourceProviderBase)]

    def _build_artifacts_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "ArtifactsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            # Each code zip has its own key (its hash), so only a re-upload of the same zip leaves a noncurrent
            # version behind; current objects, which a rollback needs, are never expired.
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(NONCURRENT_CODE_DAYS))],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        # Event notifications to EventBridge, set on the CloudFormation bucket: CDK's event_bridge_enabled would
        # add a Lambda-backed custom resource for what CloudFormation does natively.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        return bucket

    def _build_provider_logging(self) -> None:
        """Gives CDK's raw custom-resource providers (S3 auto-delete) a log group that the stack owns.

        Left alone, Lambda creates their log group at run time, without retention, and `cdk destroy`
        leaves it behind. The provider construct has no logging option, so its handler is pointed here.
        """
        providers = self.custom_resource_providers()
        if not providers:
            return
        log_group = self._build_log_group("CustomResourceProviderLogGroup")
        for provider in providers:
            handler = _raw_child(provider, "AWS::Lambda::Function")
            handler.add_property_override("LoggingConfig.LogGroup", log_group.log_group_name)
            _raw_child(provider, "AWS::IAM::Role").add_property_override(
                "Policies",
                [
                    {
                        "PolicyName": "NoLogGroupCreation",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [DENY_LOG_GROUP_CREATION.to_statement_json()],
                        },
                    }
                ],
            )

    def _build_code_deployment(self) -> s3_deployment.BucketDeployment:
        """Copies the zipped lambda/ into the artifacts bucket; the key is the zip's hash, so new code = new key.

        The copy waits for the bucket's auto-delete custom resource, so a rollback or destroy empties the
        bucket only after the copy is gone, and a failed first deploy still deletes the versioned bucket
        (aws-devtools-labs/aws-blocks PR #437).
        """
        deployment = s3_deployment.BucketDeployment(
            self,
            "FunctionCodeDeployment",
            sources=[s3_deployment.Source.asset(str(LAMBDA_SOURCE), exclude=LAMBDA_PACKAGE_EXCLUDES)],
            destination_bucket=self.artifacts_bucket,
            destination_key_prefix=CODE_KEY_PREFIX,
            extract=False,
            prune=False,
            log_group=self._build_log_group("CodeDeploymentLogGroup"),
        )
        deployment.node.add_dependency(self.artifacts_bucket.node.find_child("AutoDeleteObjectsCustomResource"))
        deployment.handler_role.add_to_principal_policy(DENY_LOG_GROUP_CREATION)
        return deployment

    def _build_table(self, construct_id: str) -> dynamodb.Table:
        """A table keyed by `id`, with point-in-time recovery and the AWS managed key, deleted with the stack
        unless the deployer sets retain_data (then retained and deletion-protected)."""
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=self.config.retain_data,
            removal_policy=RemovalPolicy.RETAIN if self.config.retain_data else RemovalPolicy.DESTROY,
        )

    def _build_log_group(self, construct_id: str, log_group_name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=log_group_name,
            retention=LOG_RETENTION[self.config.log_retention_days],
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _build_function_role(self) -> iam.Role:
        """Only what lambda/ calls, on this stack's resources; no managed policies, no logs:CreateLogGroup."""
        return iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
            description="Items API function: item reads/writes on its table, its own logs, X-Ray traces",
            inline_policies={
                "ItemsFunction": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="ItemsTableReadWrite",
                            actions=TABLE_ACTIONS,
                            resources=[self.table.table_arn],
                        ),
                        iam.PolicyStatement(
                            sid="OwnLogGroupOnly",
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.function_log_group.log_group_arn],
                        ),
                        iam.PolicyStatement(
                            sid="XRayHasNoResourceScoping",
                            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                            resources=["*"],
                        ),
                    ]
                )
            },
        )

    def _code_from_artifacts_bucket(self) -> lambda_.Code:
        """The code zip as the deployment copied it: its key and object version, read from the deployment's
        outputs, which makes CloudFormation create a function that uses it only after the copy."""
        code_key = Fn.join("", [CODE_KEY_PREFIX, Fn.select(0, self.code_deployment.object_keys)])
        code_version = Fn.select(0, self.code_deployment.object_version_ids)
        return lambda_.Code.from_bucket(self.code_deployment.deployed_bucket, code_key, code_version)

    def _build_function(self) -> lambda_.Function:
        return lambda_.Function(
            self,
            "ItemsFunction",
            description="Items API: CRUD on the items table behind API Gateway",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=self._code_from_artifacts_bucket(),
            memory_size=256,
            timeout=Duration.seconds(15),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel(self.config.log_level),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.function_log_group,
            # The role's policies are complete as written; CDK must not add statements of its own.
            role=self.function_role.without_policy_updates(),
            environment={
                "TABLE_NAME": self.table.table_name,
                "LOG_LEVEL": self.config.log_level,
                # The API's routes from the document ({"GET /items": "listItems", ...}): the function routes by the
                # resource and method API Gateway's proxy event documents, and keeps no copy of them.
                "OPERATIONS": json.dumps(
                    {f"{method} {path}": name for (path, method), name in sorted(contract.operation_ids().items())},
                    separators=(",", ":"),
                ),
            },
        )

    def _build_api(self) -> apigateway.RestApi:
        authorization = (
            apigateway.AuthorizationType.IAM if self.config.api_auth == "iam" else apigateway.AuthorizationType.NONE
        )
        api = apigateway.RestApi(
            self,
            "ItemsApi",
            description="Items API (REST) in front of the items function",
            cloud_watch_role=False,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name=contract.stage(),
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.api_access_log_group),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
            ),
            default_method_options=apigateway.MethodOptions(authorization_type=authorization),
        )
        self._build_error_responses(api)
        validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        self._build_operations(api, validator)
        return api

    def _build_operations(self, api: apigateway.RestApi, validator: apigateway.RequestValidator) -> None:
        """Every operation of the contract (api/openapi.json) as a method on its resource, named by its
        operationId and with the request model of its body: adding an operation to the document adds it here."""
        integration = apigateway.LambdaIntegration(
            self.function,  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
            proxy=True,
            allow_test_invoke=False,
        )
        resources = {"/": api.root}
        models = {}
        for path, method in sorted(contract.operations()):
            resource = _resource_for(resources, path)
            schema_name = contract.request_body_schema_name(path, method)
            operation_name = contract.operation_ids()[path, method]
            if schema_name is None:
                resource.add_method(method, integration, operation_name=operation_name)
                continue
            if schema_name not in models:
                models[schema_name] = api.add_model(
                    f"{schema_name}Model",
                    content_type="application/json",
                    schema=cdk_json_schema(contract.request_model(path, method)),
                )
            resource.add_method(
                method,
                integration,
                operation_name=operation_name,
                request_validator=validator,
                request_models={"application/json": models[schema_name]},
            )

    def _build_error_responses(self, api: apigateway.RestApi) -> None:
        """API Gateway's own 4xx/5xx answers in the same {"error": {...}} shape the function uses; a body the
        request model refuses is answered with the validator's detail, which names the failing rule or field."""
        for construct_id, response_type, code, message in (
            ("ClientErrorResponse", apigateway.ResponseType.DEFAULT_4_XX, "$context.error.responseType", None),
            ("ServerErrorResponse", apigateway.ResponseType.DEFAULT_5_XX, "InternalError", None),
            (
                "BadRequestBodyResponse",
                apigateway.ResponseType.BAD_REQUEST_BODY,
                "BAD_REQUEST_BODY",
                '"$context.error.validationErrorString"',
            ),
        ):
            api.add_gateway_response(
                construct_id,
                type=response_type,
                templates={
                    "application/json": (
                        '{"error": {"code": "'
                        + code
                        + '", "message": '
                        + (message or "$context.error.messageString")
                        + "}}"
                    )
                },
            )

    def _build_api_gateway_cloudwatch_role(self) -> iam.Role:
        """API Gateway's account-wide CloudWatch Logs role, with the actions API Gateway checks it for.

        API Gateway checks the role against the actions of the managed policy AmazonAPIGatewayPushToCloudWatchLogs
        when the account setting is made, and the setting serves every REST API in the account and region,
        so the grant covers the account's log groups (rain#163, cloudformation-coverage-roadmap#2312).
        """
        return iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
            description="API Gateway's account-wide CloudWatch Logs role (execution and access logs)",
            inline_policies={
                "PushToCloudWatchLogs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="AmazonAPIGatewayPushToCloudWatchLogsActions",
                            actions=sorted(API_GATEWAY_LOGGING_ACTIONS),
                            resources=[self.format_arn(service="logs", resource="*")],
                        )
                    ]
                )
            },
        )

    def _build_api_execution_logging(self) -> logs.LogGroup:
        """The account-level CloudWatch role setting and the execution log group API Gateway would create itself.

        A fresh account has no CloudWatch role for API Gateway, and a stage with execution logging fails to
        deploy without one. The Account waits for the API and the role (rain#163); the stage waits for both.
        """
        execution_log_group = self._build_log_group(
            "ApiExecutionLogGroup",
            log_group_name=f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{contract.stage()}",
        )
        account = apigateway.CfnAccount(
            self, "ApiGatewayAccount", cloud_watch_role_arn=self.api_gateway_cloudwatch_role.role_arn
        )
        account.node.add_dependency(self.api.node.default_child)
        self.api.deployment_stage.node.add_dependency(account, execution_log_group)
        return execution_log_group

    def _build_error_rate_alarm(self, function: lambda_.Function, construct_id: str, label: str) -> cloudwatch.Alarm:
        """An alarm on the function's error rate that notifies the alarm topic: one for every function."""
        period = Duration.minutes(5)
        error_rate = cloudwatch.MathExpression(
            expression="IF(invocations > 0, 100 * errors / invocations, 0)",
            using_metrics={
                "errors": function.metric_errors(period=period, statistic="Sum"),
                "invocations": function.metric_invocations(period=period, statistic="Sum"),
            },
            label="Error rate (%)",
            period=period,
        )
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=(
                f"{label} error rate above {self.config.error_rate_threshold_percent:g}% "
                "(unhandled errors per invocation, 5-minute windows)"
            ),
            metric=error_rate,
            threshold=self.config.error_rate_threshold_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # The topic's policy replaces SNS's default, which is what let CloudWatch publish: allow this alarm.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
                actions=["sns:Publish"],
                resources=[self.alarm_topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": alarm.alarm_arn}},
            )
        )
        action = cloudwatch_actions.SnsAction(self.alarm_topic)  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
        alarm.add_alarm_action(action)  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
        return alarm

    def _build_alarm_topic(self) -> sns.Topic:
        """Always there, so the alarm always has an action that on-call tooling can subscribe to; the e-mail
        subscription only when alarm_email is set (it needs a confirmed address to be useful)."""
        topic = sns.Topic(self, "AlarmTopic", display_name="Items API alarms", enforce_ssl=True)
        if self.config.alarm_email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(self.config.alarm_email))  # pyright: ignore[reportArgumentType]  (jsii protocols, aws-cdk#31454)
        return topic

    def _build_outputs(self) -> None:
        # RestApi's own Endpoint output (ItemsApiEndpoint<hash>) repeats ApiUrl under a hashed name.
        self.api.node.try_remove_child("Endpoint")
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the items API (prod stage)")
        CfnOutput(self, "TableName", value=self.table.table_name, description="DynamoDB items table")
        CfnOutput(
            self,
            "ArtifactsBucketName",
            value=self.artifacts_bucket.bucket_name,
            description="S3 bucket holding the function's code package",
        )
