"""Every acknowledged finding, in one reviewed place: one construct, one finding id, one reason each.

Fix findings in the stack first; acknowledge only what cannot or should not be fixed here, and say why it
is safe. Targets are found through the stack's attributes or by construct type, never by hashed paths, so
they survive CDK upgrades. tests/test_acknowledgements.py fails on an empty reason or a stale entry.

Finding ids are `<plugin>::<rule>` (or `<plugin>::<rule>[<finding>]` for per-finding rules), exactly as
the validation report prints them under "Acknowledge with".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct, Node

from policies.rules.deployability import ApiGatewayAccountRoleCanLog, NothingRetained
from policies.rules.iam import NoAwsManagedPolicies, NoWildcardActions, UnscopedResourcesOnlyWhereUnavoidable
from policies.rules.observability import FunctionActiveTracing

NAG = "AwsSolutions::AwsSolutions"
SERVERLESS = "Serverless::Serverless"
BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class AcknowledgedStack(Protocol):
    """What the acknowledgements read of the service stack (main.ServerlessBackendStack), which they do not
    import: the stack and the policies stay independent."""

    config: Any
    artifacts_bucket: Any
    code_deployment: Any
    table: Any
    function_role: Any
    function: Any
    api: Any
    api_gateway_cloudwatch_role: Any
    alarm_topic: Any

    @property
    def node(self) -> Node: ...

    def get_logical_id(self, element: Any) -> str: ...

    def resolve(self, obj: Any) -> Any: ...

    def custom_resource_providers(self) -> list: ...


@dataclass(frozen=True)
class Acknowledgement:
    target: IConstruct
    finding_id: str
    reason: str


def acknowledgements(stack: AcknowledgedStack) -> list[Acknowledgement]:
    return [
        *_items_service(stack),
        *_cdk_bucket_deployment_handler(stack),
        *_cdk_auto_delete_provider(stack),
        *_deployer_opt_outs(stack),
    ]


def apply_acknowledgements(stack: AcknowledgedStack) -> list[Acknowledgement]:
    applied = acknowledgements(stack)
    for ack in applied:
        Validations.of(ack.target).acknowledge(Acknowledgment(id=ack.finding_id, reason=ack.reason))
    return applied


def _items_service(stack: AcknowledgedStack) -> list[Acknowledgement]:
    return [
        Acknowledgement(
            stack.artifacts_bucket,
            f"{NAG}-S1",
            "Holds only the code zip, written by the stack's own deployment; CloudTrail records API access. "
            "A log bucket would be a second bucket with nothing to audit that CloudTrail does not.",
        ),
        Acknowledgement(
            stack.function_role,
            f"{NAG}-IAM5[Resource::*]",
            "Only xray:PutTraceSegments and xray:PutTelemetryRecords are on '*': X-Ray has no resource-level "
            f"permissions. Our {UnscopedResourcesOnlyWhereUnavoidable.rule_id} rule keeps every other action scoped.",
        ),
        Acknowledgement(
            stack.function_role,
            f"{SERVERLESS}-LambdaStarPermissions",
            "The only '*' is the resource of the two X-Ray put actions, which AWS cannot scope; no action is "
            f"a wildcard (our {NoWildcardActions.rule_id} rule).",
        ),
        Acknowledgement(
            stack.api_gateway_cloudwatch_role,
            f"{NAG}-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:*]",
            "API Gateway's account-wide CloudWatch role: API Gateway validates it against the seven actions of "
            "AmazonAPIGatewayPushToCloudWatchLogs, and every REST API in this account and region logs through "
            "it, so it cannot name this API's groups (rain#163, cloudformation-coverage-roadmap#2312). The "
            f"grant stays inside this account's and region's CloudWatch Logs; {ApiGatewayAccountRoleCanLog.rule_id} "
            f"requires it, {UnscopedResourcesOnlyWhereUnavoidable.rule_id} allows it on this role only.",
        ),
        Acknowledgement(
            stack.function,
            f"{SERVERLESS}-LambdaDLQ",
            "API Gateway invokes the function synchronously: a failure returns to the caller and counts in "
            "the Errors metric the alarm watches. A DLQ only receives failed asynchronous invocations.",
        ),
        Acknowledgement(
            stack.api,
            f"{NAG}-COG4",
            "Methods use IAM (SigV4) authorization, which authenticates AWS principals without a user pool; "
            "a Cognito pool would add a resource and a second identity system.",
        ),
        Acknowledgement(
            stack.api,
            f"{NAG}-APIG3",
            "No WAF web ACL: IAM authorization rejects unsigned requests before they reach the function, "
            "and stage throttling bounds load. WAF costs per ACL and rule; add it for public exposure.",
        ),
    ]


def _cdk_bucket_deployment_handler(stack: AcknowledgedStack) -> list[Acknowledgement]:
    """CDK's BucketDeployment handler: built by aws-cdk-lib, runs only during deploys, not reachable by users."""
    handler = stack.code_deployment.handler_role.node.scope
    bucket_arn = f"<{stack.resolve(stack.get_logical_id(stack.artifacts_bucket.node.default_child))}.Arn>"
    cdk_owned = "CDK's BucketDeployment handler, which runs only while CloudFormation deploys."
    return [
        Acknowledgement(
            handler,
            f"{NAG}-IAM4[{BASIC_EXECUTION_ROLE}]",
            f"{cdk_owned} aws-cdk-lib attaches AWSLambdaBasicExecutionRole (logs only) and offers no option.",
        ),
        Acknowledgement(
            handler,
            NoAwsManagedPolicies.finding_id(),
            f"{cdk_owned} aws-cdk-lib attaches AWSLambdaBasicExecutionRole (logs only) and offers no option.",
        ),
        *(
            Acknowledgement(
                handler,
                f"{NAG}-IAM5[{finding}]",
                f"{cdk_owned} CDK's grant covers the two buckets it copies between and nothing else: "
                "reading the CDK asset and writing the artifacts bucket.",
            )
            for finding in (
                "Action::s3:GetBucket*",
                "Action::s3:GetObject*",
                "Action::s3:List*",
                "Action::s3:Abort*",
                "Action::s3:DeleteObject*",
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                f"Resource::{bucket_arn}/*",
            )
        ),
        Acknowledgement(
            handler,
            f"{NAG}-L1",
            f"{cdk_owned} Its runtime is pinned by aws-cdk-lib and moves with CDK upgrades.",
        ),
        Acknowledgement(
            handler,
            f"{SERVERLESS}-LambdaLatestVersion",
            f"{cdk_owned} Its runtime is pinned by aws-cdk-lib and moves with CDK upgrades.",
        ),
        Acknowledgement(
            handler,
            f"{SERVERLESS}-LambdaDLQ",
            f"{cdk_owned} CloudFormation invokes it and waits for its answer; failures fail the deployment.",
        ),
        Acknowledgement(
            handler,
            f"{SERVERLESS}-LambdaTracing",
            f"{cdk_owned} aws-cdk-lib offers no tracing option; it serves no user request to trace.",
        ),
        Acknowledgement(
            handler,
            FunctionActiveTracing.finding_id(),
            f"{cdk_owned} aws-cdk-lib offers no tracing option; it serves no user request to trace.",
        ),
    ]


def _cdk_auto_delete_provider(stack: AcknowledgedStack) -> list[Acknowledgement]:
    """CDK's S3 auto-delete provider: a raw CfnResource pair that cdk-nag does not inspect, but we do."""
    cdk_owned = "CDK's S3 auto-delete provider, which runs only when the bucket is deleted or replaced."
    return [
        ack
        for provider in stack.custom_resource_providers()
        if "S3AutoDeleteObjects" in provider.node.id
        for ack in (
            Acknowledgement(
                provider,
                NoAwsManagedPolicies.finding_id(),
                f"{cdk_owned} aws-cdk-lib attaches AWSLambdaBasicExecutionRole (logs only) and offers no option.",
            ),
            Acknowledgement(
                provider,
                FunctionActiveTracing.finding_id(),
                f"{cdk_owned} aws-cdk-lib offers no tracing option; it serves no user request to trace.",
            ),
        )
    ]


def _deployer_opt_outs(stack: AcknowledgedStack) -> list[Acknowledgement]:
    """Findings that exist only when a deployer turns a default off through context, on purpose."""
    opt_outs = []
    if stack.config.api_auth == "none":
        opt_outs.append(
            Acknowledgement(
                stack.api,
                f"{NAG}-APIG4",
                "The deployer chose -c api_auth=none: the API is deliberately open (README: Calling the API).",
            )
        )
    if stack.config.retain_data:
        opt_outs.append(
            Acknowledgement(
                stack.table,
                NothingRetained.finding_id(),
                "The deployer chose -c retain_data=true: the items table holds data that must outlive the stack, "
                "so it is retained and deletion-protected; everything else is still deleted (README: Configuration).",
            )
        )
    if stack.alarm_topic is not None:
        opt_outs.append(
            Acknowledgement(
                stack.alarm_topic,
                f"{SERVERLESS}-SNSRedrivePolicy",
                "The only subscription is the alarm e-mail the deployer gave; a message SNS cannot deliver to "
                "an inbox would sit unread in a dead-letter queue too. The alarm's state stays in CloudWatch.",
            )
        )
    return opt_outs
