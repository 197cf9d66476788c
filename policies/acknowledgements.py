"""Every acknowledged finding, in one reviewed place: one construct, one finding id, one reason each.

Fix findings in the stack first; acknowledge only what cannot or should not be fixed here, and say why it
is safe. Targets are found through the stack's attributes or by construct type, never by hashed paths, so
they survive CDK upgrades. tests/test_acknowledgements.py fails on an empty reason or a stale entry.

Finding ids are `<plugin>::<rule>` (or `<plugin>::<rule>[<finding>]` for per-finding rules), exactly as
the validation report prints them under "Acknowledge with".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct, Node

from policies.profiles import PROFILES
from policies.rules.deployability import ApiGatewayAccountRoleCanLog, NothingRetained
from policies.rules.iam import NoAwsManagedPolicies, NoWildcardActions, UnscopedResourcesOnlyWhereUnavoidable
from policies.rules.observability import FunctionActiveTracing

NAG = "AwsSolutions::AwsSolutions"
SERVERLESS = "Serverless::Serverless"
BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

# Reasons that more than one pack's finding shares: each is written once.
NO_BUCKET_ACCESS_LOGS = (
    "Holds only the function's code zip, which the repository holds too: the stack's own deployment writes it "
    "and CloudFormation reads it. Bucket-level API calls are in CloudTrail's event history; object access "
    "logs would need a second bucket, which `cdk destroy` must also empty, to record only those deploys."
)
SYNCHRONOUS_ONLY = (
    "API Gateway invokes the function synchronously: a failure returns to the caller and counts in "
    "the Errors metric the alarm watches. A DLQ only receives failed asynchronous invocations."
)
NO_WAF = (
    "No WAF web ACL: the stage's throttling bounds load and, with the default "
    "api_auth=iam, IAM authorization rejects unsigned requests before they reach the function. WAF costs per "
    "ACL and rule; add it before exposing the API publicly (api_auth=none)."
)
CDK_HANDLER_NO_DLQ = (
    "CDK's BucketDeployment handler, which runs only while CloudFormation deploys: CloudFormation invokes it "
    "asynchronously and waits for the response the handler sends back; a failure is sent as FAILED and fails "
    "the deployment, so nothing would read a dead-letter queue."
)


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
        *_compliance_profiles(stack),
    ]


def apply_acknowledgements(stack: AcknowledgedStack) -> list[Acknowledgement]:
    applied = acknowledgements(stack)
    for ack in applied:
        Validations.of(ack.target).acknowledge(Acknowledgment(id=ack.finding_id, reason=ack.reason))
    return applied


def _items_service(stack: AcknowledgedStack) -> list[Acknowledgement]:
    return [
        Acknowledgement(stack.artifacts_bucket, f"{NAG}-S1", NO_BUCKET_ACCESS_LOGS),
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
        Acknowledgement(stack.function, f"{SERVERLESS}-LambdaDLQ", SYNCHRONOUS_ONLY),
        Acknowledgement(
            stack.api,
            f"{NAG}-COG4",
            "Methods use IAM (SigV4) authorization, which authenticates AWS principals without a user pool; "
            "a Cognito pool would add a resource and a second identity system.",
        ),
        Acknowledgement(stack.api, f"{NAG}-APIG3", NO_WAF),
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
        Acknowledgement(handler, f"{SERVERLESS}-LambdaDLQ", CDK_HANDLER_NO_DLQ),
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
    if stack.config.alarm_email:
        opt_outs.append(
            Acknowledgement(
                stack.alarm_topic,
                f"{SERVERLESS}-SNSRedrivePolicy",
                "The only subscription is the alarm e-mail the deployer gave; a message SNS cannot deliver to "
                "an inbox would sit unread in a dead-letter queue too. The alarm's state stays in CloudWatch.",
            )
        )
    return opt_outs


@dataclass(frozen=True)
class Departure:
    """A control of the compliance profiles that the stack does not meet on purpose: one reason, the rule in
    each profile that states the control, and the resources it concerns."""

    reason: str
    rules: dict[str, str]
    targets: Callable[[AcknowledgedStack], list[IConstruct]]
    applies: Callable[[AcknowledgedStack], bool] = lambda _stack: True


def _of_type(
    resource_type: str, within: Callable[[AcknowledgedStack], IConstruct] | None = None
) -> Callable[[AcknowledgedStack], list[IConstruct]]:
    """Every resource of one CloudFormation type in the stack (or in one of its constructs), CDK's own
    included, found by type."""
    return lambda stack: [
        child
        for child in (within(stack).node if within else stack.node).find_all()
        if isinstance(child, CfnResource) and child.cfn_resource_type == resource_type
    ]


def _nag(rule: str, *, packs: tuple[str, ...] = ()) -> dict[str, str]:
    """One cdk-nag rule in every cdk-nag profile, or only in `packs` for a rule that not every pack has (its
    pack's file in cdk-nag's RULES.md says; an acknowledgement for a pack without the rule is reported stale)."""
    names = packs or tuple(name for name, profile in PROFILES.items() if profile.cdk_nag_pack)
    return dict.fromkeys(names, rule)


DEPARTURES = (
    Departure(
        "Each permission lets only apigateway.amazonaws.com invoke, with SourceArn set to this API's "
        "execute-api ARN for one method, which names the account. Offline the Guard rule accepts SourceArn only "
        "as a literal or a Ref/GetAtt, not as the Fn::Join that builds it; the Control Tower hook reads the "
        "resolved string and passes (tests/test_profiles.py runs the rule both ways). SourceAccount would "
        "repeat the account the ARN already names, and offline a Ref to it fails the same way.",
        {"control-tower": "lambda_function_public_access_prohibited_check"},
        _of_type("AWS::Lambda::Permission", within=lambda stack: stack.api),
    ),
    Departure(
        "The mission sets SSE-S3 (AES256) on the artifacts bucket, and our SA-S1 rule holds every bucket to it. "
        "SSE-KMS, even with the AWS managed key, would meet this control and break that requirement.",
        {"control-tower": "s3_bucket_default_encryption_kms_check", **_nag("S3DefaultEncryptionKMS")},
        _of_type("AWS::S3::Bucket"),
    ),
    Departure(
        "CloudWatch Logs encrypts every log group at rest; a customer managed key adds a key, a key policy "
        "granting the logs service, a monthly charge and a key that must outlive the logs. The stack is minimal.",
        {"control-tower": "cloudwatch_log_group_encrypted_check", **_nag("CloudWatchLogGroupEncrypted")},
        _of_type("AWS::Logs::LogGroup"),
    ),
    Departure(
        "The alarm topic carries only alarm state changes. CloudWatch cannot publish to a topic encrypted with "
        "the AWS managed SNS key (SNS developer guide: compatibility between event sources and encrypted "
        "topics), so encryption would need a customer managed key with a policy for CloudWatch.",
        _nag("SNSEncryptedKMS"),
        _of_type("AWS::SNS::Topic"),
    ),
    Departure(
        "The functions reach only DynamoDB, S3, X-Ray and CloudWatch Logs through their public endpoints "
        "with IAM; a VPC would add subnets, security groups and endpoints or a NAT gateway, and slow teardown "
        "while Lambda releases its network interfaces. The stack is minimal.",
        {"control-tower": "lambda_inside_vpc_check", **_nag("LambdaInsideVPC")},
        _of_type("AWS::Lambda::Function"),
    ),
    Departure(
        "Retention is the log_retention_days setting (default 30 days); a platform team that requires a "
        "year deploys with -c log_retention_days=365, and this control then passes.",
        {"control-tower": "cloudwatch_log_group_retention_period_check"},
        _of_type("AWS::Logs::LogGroup"),
        applies=lambda stack: stack.config.log_retention_days < 365,
    ),
    Departure(
        NO_BUCKET_ACCESS_LOGS,
        {"control-tower": "s3_bucket_logging_enabled_check", **_nag("S3BucketLoggingEnabled")},
        lambda stack: [stack.artifacts_bucket],
    ),
    Departure(
        "The code zip is rebuilt from the repository by every deploy; a replica bucket in another region "
        "would be a second bucket that `cdk destroy` must also empty and remove.",
        _nag("S3BucketReplicationEnabled"),
        lambda stack: [stack.artifacts_bucket],
    ),
    Departure(
        "Object Lock cannot be turned off once on, and any retention on an object version (a default rule, or "
        "one upload that sets it) then blocks deleting that version until it expires, so `cdk destroy` could no "
        "longer promise to remove the bucket; our SA-DEP1 rule forbids Object Lock for that reason.",
        {"control-tower": "s3_bucket_object_lock_enabled_check"},
        lambda stack: [stack.artifacts_bucket],
    ),
    Departure(
        "Each role's permissions are an inline policy scoped to this stack's resources (our least-privilege "
        "rules). A customer managed policy would be a separate, attachable resource with the same statements.",
        _nag("IAMNoInlinePolicy"),
        lambda stack: [
            stack.function_role,
            stack.api_gateway_cloudwatch_role,
            stack.code_deployment.handler_role.node.find_child("DefaultPolicy"),
        ],
    ),
    Departure(
        "Reserved concurrency is taken from the account's unreserved pool, and new accounts may have a "
        "quota of 10, so setting it fails a deploy to a fresh account (UnreservedConcurrentExecution below "
        "its minimum of 10; aws-samples one-click-generative-ai #3). Stage throttling bounds load instead.",
        _nag("LambdaConcurrency", packs=("nist-800-53-r5", "hipaa-security")),
        _of_type("AWS::Lambda::Function"),
    ),
    Departure(
        SYNCHRONOUS_ONLY,
        _nag("LambdaDLQ", packs=("nist-800-53-r5", "hipaa-security")),
        lambda stack: [stack.function],
    ),
    Departure(
        CDK_HANDLER_NO_DLQ,
        _nag("LambdaDLQ", packs=("nist-800-53-r5", "hipaa-security")),
        lambda stack: [stack.code_deployment.handler_role.node.scope],
    ),
    Departure(
        "Point-in-time recovery is on (35 days of restores). An AWS Backup plan adds a vault whose recovery "
        "points `cdk destroy` cannot delete, so the stack would no longer tear down completely.",
        _nag("DynamoDBInBackupPlan", packs=("nist-800-53-r5", "hipaa-security")),
        lambda stack: [stack.table],
    ),
    Departure(
        NO_WAF,
        _nag("APIGWAssociatedWithWAF", packs=("nist-800-53-r5", "pci-dss-321")),
        lambda stack: [stack.api.deployment_stage],
    ),
    Departure(
        "A stage cache would answer reads of an item that a PUT or DELETE has just changed, which breaks the "
        "API's version checks, and costs per hour whether used or not.",
        _nag("APIGWCacheEnabledAndEncrypted"),
        lambda stack: [stack.api.deployment_stage],
    ),
    Departure(
        "A stage's client certificate lets an HTTP backend authenticate API Gateway. This API's only backend "
        "is the function, through a Lambda proxy integration that IAM authorizes; nothing would check it.",
        _nag("APIGWSSLEnabled"),
        lambda stack: [stack.api.deployment_stage],
    ),
)


def _compliance_profiles(stack: AcknowledgedStack) -> list[Acknowledgement]:
    """Only for the profiles the deployer selected: an acknowledgement of a plugin that did not run is stale."""
    acknowledged = []
    for departure in DEPARTURES:
        if not departure.applies(stack):
            continue
        for name, rule in departure.rules.items():
            if name not in stack.config.compliance:
                continue
            profile = PROFILES[name]
            acknowledged += [
                Acknowledgement(target, profile.finding_id(rule), departure.reason)
                for target in departure.targets(stack)
                if not isinstance(target, CfnResource) or profile.sees(target)
            ]
    return acknowledged


def stale(applied: list[Acknowledgement], suppressed: set[tuple[str, str]]) -> list[Acknowledgement]:
    """The acknowledgements that matched no finding: `suppressed` holds (finding id, acknowledged at) pairs."""
    return [ack for ack in applied if (ack.finding_id, ack.target.node.path) not in suppressed]
