"""Every acknowledged finding, in one reviewed place: one construct, one finding id, one reason each.

Fix findings in the stack first; acknowledge only what cannot or should not be fixed here, and say why it
is safe. Targets are found by CloudFormation type and by their relations in the finished construct tree (the
role a function runs with, the functions API Gateway invokes, the roles the API Gateway account names),
never by attributes of the stack or by hashed paths: a second function, table or index that has the same
reason is covered the same way, and a resource without that reason is not. `Acknowledge` applies them at
synthesis, after every construct exists. tests/test_acknowledgements.py fails on an empty reason or a stale entry.

Finding ids are `<plugin>::<rule>` (or `<plugin>::<rule>[<finding>]` for per-finding rules), exactly as
the validation report prints them under "Acknowledge with".
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import jsii
from aws_cdk import (
    Acknowledgment,
    AspectPriority,
    Aspects,
    CfnResource,
    CustomResourceProviderBase,
    IAspect,
    Stack,
    Validations,
)
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import IConstruct

from cfn.template import allow_statements, reference, references, statement_actions, statement_resources
from config import ServiceConfig
from conventions import UNSCOPABLE_ACTIONS
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
DELIBERATELY_OPEN = "The deployer chose -c api_auth=none: the API is deliberately open (README: Calling the API)."
STREAM_FAILURE_DESTINATION = (
    "Fed only by event source mappings that send a batch they give up on to an on-failure destination after "
    "bounded retries (our SA-DATA4 rule): a function DLQ receives failed asynchronous invocations only."
)
FAILURE_DESTINATION_IS_THE_DLQ = (
    "This queue is the on-failure destination of a stream's event source mapping: it is the dead-letter queue, "
    "holding the batches the function gave up on; a queue behind it would only move them once more."
)
CDK_HANDLER_NO_DLQ = (
    "CDK's BucketDeployment handler, which runs only while CloudFormation deploys: CloudFormation invokes it "
    "asynchronously and waits for the response the handler sends back; a failure is sent as FAILED and fails "
    "the deployment, so nothing would read a dead-letter queue."
)


def _call_site() -> str:
    """Where in this file the Acknowledgement or Departure being made is written (the line its call starts on)."""
    frame = inspect.currentframe()
    while frame is not None and (frame.f_code.co_filename != __file__ or frame.f_code.co_name in _NOT_CALL_SITES):
        frame = frame.f_back
    if frame is None:
        return ""
    position = inspect.getframeinfo(frame).positions
    line = position.lineno if position and position.lineno else frame.f_lineno
    return f"policies/acknowledgements.py:{line}"


_NOT_CALL_SITES = {"_call_site", "__init__", "<lambda>"}


@dataclass(frozen=True)
class Acknowledgement:
    target: IConstruct
    finding_id: str
    reason: str
    # Where it is written, for the review report's link (a departure's acknowledgements point at the departure).
    source: str = field(default_factory=_call_site, compare=False)


class StackRelations:
    """The stack's resources by type and by relation, read from the finished construct tree: each CfnResource
    by its logical id, and the properties that relate resources resolved as the template will render them."""

    def __init__(self, stack: Stack, config: ServiceConfig):
        self.stack = stack
        self.config = config
        self.resources = {
            stack.resolve(node.logical_id): node for node in stack.node.find_all() if isinstance(node, CfnResource)
        }

    def of_type(self, resource_type: str, within: IConstruct | None = None) -> list[IConstruct]:
        """Every resource of one CloudFormation type (in one construct, if given), as the construct that owns it."""
        scope = within.node.path + "/" if within else ""
        return [
            owner(node)
            for node in self.resources.values()
            if node.cfn_resource_type == resource_type and node.node.path.startswith(scope)
        ]

    def target(self, value) -> CfnResource | None:
        """The resource a Ref or Fn::GetAtt value points at."""
        return self.resources.get(reference(self.stack.resolve(value)) or "")

    @cached_property
    def cdk_handler_functions(self) -> list[IConstruct]:
        """The functions CDK builds to serve its own custom resources: the BucketDeployment handlers."""
        return [
            deployment.handler_role.node.scope
            for deployment in self.stack.node.find_all()
            if isinstance(deployment, s3_deployment.BucketDeployment) and deployment.handler_role.node.scope
        ]

    @cached_property
    def application_functions(self) -> list[CfnResource]:
        """Every AWS::Lambda::Function that is not one of CDK's custom-resource handlers."""
        handlers = {handler.node.path for handler in self.cdk_handler_functions}
        return [
            node
            for node in self.resources.values()
            if node.cfn_resource_type == "AWS::Lambda::Function"
            and owner(node).node.path not in handlers
            and not isinstance(node.node.scope, CustomResourceProviderBase)
        ]

    def role_of(self, function: CfnResource) -> CfnResource | None:
        return self.target(getattr(function, "role", None))

    def statements_of(self, role: CfnResource) -> list[dict]:
        """The Allow statements of a role's inline policies and of the policies attached to it."""
        documents = [self.stack.resolve(getattr(role, "policies", None)) or []]
        inline = [policy.get("policyDocument", {}) for policy in documents[0]]
        attached = [
            self.stack.resolve(getattr(policy, "policy_document", None)) or {}
            for policy in self.resources.values()
            if policy.cfn_resource_type == "AWS::IAM::Policy"
            and reference(self.stack.resolve(role.ref)) in references(self.stack.resolve(getattr(policy, "roles", [])))
        ]
        return [s for document in inline + attached for s in allow_statements({"PolicyDocument": document})]

    def roles_unscoped_only_where_unavoidable(self) -> list[IConstruct]:
        """The roles of application functions whose every `*` resource is for actions AWS cannot scope."""
        found = []
        for function in self.application_functions:
            role = self.role_of(function)
            if role is None:
                continue
            unscoped = [s for s in self.statements_of(role) if "*" in statement_resources(s)]
            if unscoped and all(set(statement_actions(s)) <= UNSCOPABLE_ACTIONS for s in unscoped):
                found.append(owner(role))
        return unique(found)

    def inline_policies(self) -> list[IConstruct]:
        """The roles that carry inline policies, and every AWS::IAM::Policy (an inline policy of its own)."""
        return unique(
            owner(node)
            for node in self.resources.values()
            if node.cfn_resource_type == "AWS::IAM::Policy"
            or (node.cfn_resource_type == "AWS::IAM::Role" and self.stack.resolve(getattr(node, "policies", None)))
        )

    def api_gateway_account_roles(self) -> list[IConstruct]:
        return unique(
            owner(role)
            for account in self.resources.values()
            if account.cfn_resource_type == "AWS::ApiGateway::Account"
            and (role := self.target(getattr(account, "cloud_watch_role_arn", None))) is not None
        )

    def nodes(self, resource_type: str) -> list[CfnResource]:
        """Every CfnResource of one type, as itself."""
        return [node for node in self.resources.values() if node.cfn_resource_type == resource_type]

    def function_of(self, node: CfnResource) -> str:
        """The logical id of the function a permission or an event source mapping names."""
        return reference(self.stack.resolve(getattr(node, "function_name", None))) or ""

    def failure_destination(self, mapping: CfnResource):
        return (
            (self.stack.resolve(getattr(mapping, "destination_config", None)) or {})
            .get("onFailure", {})
            .get("destination")
        )

    def functions_invoked_by_api_gateway_only(self) -> list[IConstruct]:
        """Application functions that API Gateway may invoke and that no event source mapping feeds: every
        invocation is synchronous."""
        by_api: dict[bool, set[str]] = {True: set(), False: set()}
        for permission in self.nodes("AWS::Lambda::Permission"):
            by_api[getattr(permission, "principal", None) == "apigateway.amazonaws.com"].add(
                self.function_of(permission)
            )
        api, others = by_api[True], by_api[False]
        fed = {self.function_of(mapping) for mapping in self.nodes("AWS::Lambda::EventSourceMapping")}
        return [
            owner(function)
            for function in self.application_functions
            if self.stack.resolve(function.logical_id) in api - fed - others
        ]

    def functions_fed_by_streams_with_failure_destinations(self) -> list[IConstruct]:
        """Application functions that only event source mappings invoke (no permission lets anything else), each
        sending what it gives up on to a destination."""
        kept: dict[str, list[bool]] = {}
        for mapping in self.nodes("AWS::Lambda::EventSourceMapping"):
            kept.setdefault(self.function_of(mapping), []).append(bool(self.failure_destination(mapping)))
        permitted = {self.function_of(permission) for permission in self.nodes("AWS::Lambda::Permission")}
        return [
            owner(function)
            for function in self.application_functions
            if all(kept.get(self.stack.resolve(function.logical_id), [False]))
            and self.stack.resolve(function.logical_id) not in permitted
        ]

    def failure_destination_queues(self) -> list[IConstruct]:
        """The SQS queues that event source mappings send failed batches to."""
        return unique(
            owner(queue)
            for mapping in self.nodes("AWS::Lambda::EventSourceMapping")
            if (queue := self.target(self.failure_destination(mapping))) is not None
            and queue.cfn_resource_type == "AWS::SQS::Queue"
        )

    def code_buckets(self) -> list[IConstruct]:
        """The buckets a BucketDeployment copies code into: those its handler's policy lets it write."""
        found = []
        for handler in self.cdk_handler_functions:
            role = handler.node.try_find_child("ServiceRole")
            resource = role.node.default_child if role is not None else None
            if not isinstance(resource, CfnResource):
                continue
            for statement in self.statements_of(resource):
                if not {"s3:PutObject", "s3:PutObject*"} & set(statement_actions(statement)):
                    continue  # the handler reads the CDK asset; it writes only the buckets it copies into
                for resource in statement_resources(statement):
                    bucket = self.resources.get(next(iter(references(resource)), ""))
                    if bucket is not None and bucket.cfn_resource_type == "AWS::S3::Bucket":
                        found.append(owner(bucket))
        return unique(found)

    def topics_mailing_an_address(self) -> list[IConstruct]:
        """Topics whose every subscription is an e-mail address."""
        protocols: dict[str, tuple[IConstruct, set]] = {}
        for node in self.resources.values():
            if node.cfn_resource_type == "AWS::SNS::Subscription":
                topic = self.target(getattr(node, "topic_arn", None))
                if topic is not None:
                    protocols.setdefault(topic.node.path, (topic, set()))[1].add(getattr(node, "protocol", None))
        return unique(owner(topic) for topic, used in protocols.values() if used == {"email"})

    def custom_resource_providers(self, name: str) -> list[IConstruct]:
        """CDK's stack-level raw providers (a CustomResourceProviderBase), by the name in their construct id."""
        return [
            child
            for child in self.stack.node.children
            if isinstance(child, CustomResourceProviderBase) and name in child.node.id
        ]


def owner(node: IConstruct) -> IConstruct:
    """The construct a CfnResource is the default child of (a Bucket for its CfnBucket), or the resource itself:
    acknowledging the owner covers the resource, and reads as the construct main.py builds."""
    scope = node.node.scope
    if scope is None:
        return node
    default = scope.node.try_find_child("Resource") or scope.node.default_child
    return scope if default is not None and default.node.path == node.node.path else node


def unique(constructs) -> list[IConstruct]:
    return list({construct.node.path: construct for construct in constructs}.values())


def acknowledgements(stack: Stack, config: ServiceConfig) -> list[Acknowledgement]:
    relations = StackRelations(stack, config)
    return [
        *_application(relations),
        *_cdk_bucket_deployment_handler(relations),
        *_cdk_auto_delete_provider(relations),
        *_deployer_opt_outs(relations),
        *_compliance_profiles(relations),
    ]


@jsii.implements(IAspect)
class Acknowledge:
    """Applies the acknowledgements to the stack at synthesis, when every construct of the stack exists."""

    def __init__(self, stack: Stack, config: ServiceConfig):
        self._stack = stack
        self._config = config

    def visit(self, node: IConstruct) -> None:
        if node.node.path == self._stack.node.path:
            for ack in acknowledgements(self._stack, self._config):
                Validations.of(ack.target).acknowledge(Acknowledgment(id=ack.finding_id, reason=ack.reason))


def apply_acknowledgements(stack: Stack, config: ServiceConfig) -> None:
    Aspects.of(stack).add(Acknowledge(stack, config), priority=AspectPriority.READONLY)


def _application(relations: StackRelations) -> list[Acknowledgement]:
    """The application's own resources, found by type and relation, so a second of each is covered too."""
    return [
        *(Acknowledgement(bucket, f"{NAG}-S1", NO_BUCKET_ACCESS_LOGS) for bucket in relations.code_buckets()),
        *(
            ack
            for role in relations.roles_unscoped_only_where_unavoidable()
            for ack in (
                Acknowledgement(
                    role,
                    f"{NAG}-IAM5[Resource::*]",
                    "Only actions AWS cannot scope (conventions.UNSCOPABLE_ACTIONS: the X-Ray puts) are on '*': X-Ray "
                    f"has no resource-level permissions. Our {UnscopedResourcesOnlyWhereUnavoidable.rule_id} rule "
                    "keeps every other action scoped.",
                ),
                Acknowledgement(
                    role,
                    f"{SERVERLESS}-LambdaStarPermissions",
                    "The only '*' is the resource of actions AWS cannot scope (the X-Ray puts); no action is "
                    f"a wildcard (our {NoWildcardActions.rule_id} rule).",
                ),
            )
        ),
        *(
            Acknowledgement(
                role,
                f"{NAG}-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:*]",
                "API Gateway's account-wide CloudWatch role: API Gateway validates it against the seven actions of "
                "AmazonAPIGatewayPushToCloudWatchLogs, and every REST API in this account and region logs through "
                "it, so it cannot name this API's groups (rain#163, cloudformation-coverage-roadmap#2312). The "
                "grant stays inside this account's and region's CloudWatch Logs; "
                f"{ApiGatewayAccountRoleCanLog.rule_id} requires it, "
                f"{UnscopedResourcesOnlyWhereUnavoidable.rule_id} allows it on this role only.",
            )
            for role in relations.api_gateway_account_roles()
        ),
        *(
            Acknowledgement(function, f"{SERVERLESS}-LambdaDLQ", SYNCHRONOUS_ONLY)
            for function in relations.functions_invoked_by_api_gateway_only()
        ),
        *(
            Acknowledgement(function, f"{SERVERLESS}-LambdaDLQ", STREAM_FAILURE_DESTINATION)
            for function in relations.functions_fed_by_streams_with_failure_destinations()
        ),
        *(
            Acknowledgement(queue, finding_id, FAILURE_DESTINATION_IS_THE_DLQ)
            for queue in relations.failure_destination_queues()
            for finding_id in (f"{NAG}-SQS3", f"{SERVERLESS}-SQSRedrivePolicy")
        ),
        *(
            ack
            for api in relations.of_type("AWS::ApiGateway::RestApi")
            for ack in (
                Acknowledgement(
                    api,
                    f"{NAG}-COG4",
                    "Methods use IAM (SigV4) authorization, which authenticates AWS principals without a user "
                    "pool; a Cognito pool would add a resource and a second identity system."
                    if relations.config.api_auth == "iam"
                    else DELIBERATELY_OPEN,
                ),
                Acknowledgement(api, f"{NAG}-APIG3", NO_WAF),
            )
        ),
    ]


def _cdk_bucket_deployment_handler(relations: StackRelations) -> list[Acknowledgement]:
    """CDK's BucketDeployment handlers: built by aws-cdk-lib, run only during deploys, not reachable by users."""
    cdk_owned = "CDK's BucketDeployment handler, which runs only while CloudFormation deploys."
    return [
        ack
        for handler in relations.cdk_handler_functions
        for ack in _bucket_deployment_handler(handler, relations, cdk_owned)
    ]


def _bucket_deployment_handler(handler: IConstruct, relations: StackRelations, cdk_owned: str) -> list[Acknowledgement]:
    bucket_arns = [
        f"Resource::<{relations.stack.resolve(bucket.node.default_child.logical_id)}.Arn>/*"
        for bucket in relations.code_buckets()
        if isinstance(bucket.node.default_child, CfnResource)
    ]
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
                *bucket_arns,
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


def _cdk_auto_delete_provider(relations: StackRelations) -> list[Acknowledgement]:
    """CDK's S3 auto-delete provider: a raw CfnResource pair that cdk-nag does not inspect, but we do."""
    cdk_owned = "CDK's S3 auto-delete provider, which runs only when the bucket is deleted or replaced."
    return [
        ack
        for provider in relations.custom_resource_providers("S3AutoDeleteObjects")
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


def _deployer_opt_outs(relations: StackRelations) -> list[Acknowledgement]:
    """Findings that exist only when a deployer turns a default off through context, on purpose."""
    config = relations.config
    opt_outs = []
    if config.api_auth == "none":
        opt_outs += [
            Acknowledgement(
                api,
                f"{NAG}-APIG4",
                DELIBERATELY_OPEN,
            )
            for api in relations.of_type("AWS::ApiGateway::RestApi")
        ]
    if config.retain_data:
        opt_outs += [
            Acknowledgement(
                table,
                NothingRetained.finding_id(),
                "The deployer chose -c retain_data=true: the tables hold data that must outlive the stack, so they "
                "are retained and deletion-protected; everything else is still deleted (README: Configuration).",
            )
            for table in relations.of_type("AWS::DynamoDB::Table")
        ]
    if config.alarm_email:
        opt_outs += [
            Acknowledgement(
                topic,
                f"{SERVERLESS}-SNSRedrivePolicy",
                "The only subscription is the alarm e-mail the deployer gave; a message SNS cannot deliver to "
                "an inbox would sit unread in a dead-letter queue too. The alarm's state stays in CloudWatch.",
            )
            for topic in relations.topics_mailing_an_address()
        ]
    return opt_outs


@dataclass(frozen=True)
class Departure:
    """A control of the compliance profiles that the stack does not meet on purpose: one reason, the rule in
    each profile that states the control, and the resources it concerns."""

    reason: str
    rules: dict[str, str]
    targets: Callable[[StackRelations], list[IConstruct]]
    applies: Callable[[StackRelations], bool] = lambda _relations: True
    source: str = field(default_factory=_call_site, compare=False)


def _of_type(*resource_types: str, within: str | None = None) -> Callable[[StackRelations], list[IConstruct]]:
    """Every resource of the given CloudFormation types in the stack (or in each resource of type `within`), CDK's
    own included, found by type."""

    def find(relations: StackRelations) -> list[IConstruct]:
        scopes = relations.of_type(within) if within else [None]
        return unique(found for scope in scopes for kind in resource_types for found in relations.of_type(kind, scope))

    return find


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
        _of_type("AWS::Lambda::Permission", within="AWS::ApiGateway::RestApi"),
    ),
    Departure(
        "The project requires SSE-S3 (AES256) on the artifacts bucket, and our SA-S1 rule holds every bucket to it. "
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
        applies=lambda relations: relations.config.log_retention_days < 365,
    ),
    Departure(
        NO_BUCKET_ACCESS_LOGS,
        {"control-tower": "s3_bucket_logging_enabled_check", **_nag("S3BucketLoggingEnabled")},
        lambda relations: relations.code_buckets(),
    ),
    Departure(
        "The code zip is rebuilt from the repository by every deploy; a replica bucket in another region "
        "would be a second bucket that `cdk destroy` must also empty and remove.",
        _nag("S3BucketReplicationEnabled"),
        lambda relations: relations.code_buckets(),
    ),
    Departure(
        "Object Lock cannot be turned off once on, and any retention on an object version (a default rule, or "
        "one upload that sets it) then blocks deleting that version until it expires, so `cdk destroy` could no "
        "longer promise to remove the bucket; our SA-DEP1 rule forbids Object Lock for that reason.",
        {"control-tower": "s3_bucket_object_lock_enabled_check"},
        lambda relations: relations.code_buckets(),
    ),
    Departure(
        "Each role's permissions are an inline policy scoped to this stack's resources (our least-privilege "
        "rules). A customer managed policy would be a separate, attachable resource with the same statements.",
        _nag("IAMNoInlinePolicy"),
        lambda relations: relations.inline_policies(),
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
        lambda relations: relations.functions_invoked_by_api_gateway_only(),
    ),
    Departure(
        STREAM_FAILURE_DESTINATION,
        _nag("LambdaDLQ", packs=("nist-800-53-r5", "hipaa-security")),
        lambda relations: relations.functions_fed_by_streams_with_failure_destinations(),
    ),
    Departure(
        FAILURE_DESTINATION_IS_THE_DLQ,
        {"control-tower": "sqs_dlq_check"},
        lambda relations: relations.failure_destination_queues(),
    ),
    Departure(
        CDK_HANDLER_NO_DLQ,
        _nag("LambdaDLQ", packs=("nist-800-53-r5", "hipaa-security")),
        lambda relations: relations.cdk_handler_functions,
    ),
    Departure(
        "Point-in-time recovery is on (35 days of restores). An AWS Backup plan adds a vault whose recovery "
        "points `cdk destroy` cannot delete, so the stack would no longer tear down completely.",
        _nag("DynamoDBInBackupPlan", packs=("nist-800-53-r5", "hipaa-security")),
        _of_type("AWS::DynamoDB::Table"),
    ),
    Departure(
        NO_WAF,
        _nag("APIGWAssociatedWithWAF", packs=("nist-800-53-r5", "pci-dss-321")),
        _of_type("AWS::ApiGateway::Stage"),
    ),
    Departure(
        "A stage cache would answer reads of an item that a PUT or DELETE has just changed, which breaks the "
        "API's version checks, and costs per hour whether used or not.",
        _nag("APIGWCacheEnabledAndEncrypted"),
        _of_type("AWS::ApiGateway::Stage"),
    ),
    Departure(
        "A stage's client certificate lets an HTTP backend authenticate API Gateway. This API's only backend "
        "is the function, through a Lambda proxy integration that IAM authorizes; nothing would check it.",
        _nag("APIGWSSLEnabled"),
        _of_type("AWS::ApiGateway::Stage"),
    ),
)


def _compliance_profiles(relations: StackRelations) -> list[Acknowledgement]:
    """Only for the profiles the deployer selected: an acknowledgement of a plugin that did not run is stale."""
    acknowledged = []
    for departure in DEPARTURES:
        if not departure.applies(relations):
            continue
        for name, rule in departure.rules.items():
            if name not in relations.config.compliance:
                continue
            profile = PROFILES[name]
            acknowledged += [
                Acknowledgement(target, profile.finding_id(rule), departure.reason, departure.source)
                for target in departure.targets(relations)
                if not isinstance(target, CfnResource) or profile.sees(target)
            ]
    return acknowledged


def sources_of(applied: list[Acknowledgement]) -> dict[str, str]:
    """Each reason's source line (the first that gives it), for the review report."""
    return {ack.reason: ack.source for ack in reversed(applied)}


def stale(applied: list[Acknowledgement], suppressed: set[tuple[str, str]]) -> list[Acknowledgement]:
    """The acknowledgements that matched no finding: `suppressed` holds (finding id, acknowledged at) pairs."""
    return [ack for ack in applied if (ack.finding_id, ack.target.node.path) not in suppressed]
