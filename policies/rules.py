"""The project's own policy rules: one small class per rule, like cdk-nag's.

Each rule is an Aspect-style visitor (`visit(node)`) that matches CfnResources by `cfn_resource_type` and
reads the resource exactly as it was rendered into the template, after every Aspect (tagging included)
has run. Rules never mutate. `policies.pack.ProjectPolicies` runs them at synthesis and reports their
findings through CDK's validation report, next to cdk-nag's, where they can be acknowledged the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

from policies.taggability import tag_property
from policies.tagging import REQUIRED_TAGS
from policies.template_graph import DependencyGraph, policy_statements, statement_actions, statement_resources

# Actions for which AWS offers no resource-level permissions, so `Resource: "*"` is the only option.
# Anything added here must be checked against the Service Authorization Reference ("Resource types" empty).
UNSCOPABLE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",  # X-Ray: no resource types
        "xray:PutTelemetryRecords",  # X-Ray: no resource types
    }
)


# The actions of AmazonAPIGatewayPushToCloudWatchLogs (API Gateway developer guide, "Permissions for
# CloudWatch logging"): API Gateway validates the account's CloudWatch role against them.
API_GATEWAY_LOGGING_ACTIONS = frozenset(
    {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
    }
)
ACCOUNT_LOG_GROUPS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"
# Every resource of one service in an account: as broad as "*" for that service.
ACCOUNT_WIDE_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$")
PSEUDO_PARAMETER = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class Finding:
    rule_id: str
    construct_path: str
    logical_id: str
    message: str
    fix: str


class TemplateView:
    """The synthesized templates, so rules see properties exactly as CloudFormation will."""

    def __init__(self, templates: dict[str, dict]):
        self._templates = templates
        self._graphs: dict[int, DependencyGraph] = {}

    def graph(self, template: dict) -> DependencyGraph:
        """The template's dependency graph, built once for all rules and resources."""
        key = id(template)
        if key not in self._graphs:
            self._graphs[key] = DependencyGraph(template)
        return self._graphs[key]

    def resource_of(self, node: CfnResource) -> tuple[str, dict, dict]:
        stack = Stack.of(node)
        logical_id = stack.resolve(node.logical_id)
        template = self._templates[stack.node.path]
        return logical_id, template["Resources"].get(logical_id, {}), template


class PolicyRule:
    """Base class: subclasses set rule_id, resource_types, fix, and implement check()."""

    rule_id: ClassVar[str]
    resource_types: ClassVar[frozenset[str]] = frozenset()
    fix: ClassVar[str]

    def __init__(self, view: TemplateView, findings: list[Finding]):
        self._view = view
        self._findings = findings

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or not self.applies_to(node.cfn_resource_type):
            return
        logical_id, resource, template = self._view.resource_of(node)
        for problem in self.check(resource.get("Properties", {}), logical_id, template):
            self._findings.append(
                Finding(self.rule_id, node.node.path, logical_id, f"{node.node.path}: {problem}", self.fix)
            )

    def check(self, properties: dict, logical_id: str, template: dict) -> list[str]:
        raise NotImplementedError


# Tags -------------------------------------------------------------------------------------------------------


class RequiredTags(PolicyRule):
    """Every resource whose CloudFormation type takes tags carries project and environment tags.

    Why: cost allocation and ownership depend on them, and CDK's own custom-resource providers are
    raw CfnResources that Tags.of() does not reach. Taggability comes from CloudFormation's schemas.
    """

    rule_id = "SA-Tags1"
    fix = "Tag it in app.py (policies.tagging.apply_tags) or, for a raw CfnResource, add a Tags override."

    def applies_to(self, resource_type: str) -> bool:
        return tag_property(resource_type) is not None

    def check(self, properties, logical_id, template):
        resource_type = template["Resources"][logical_id]["Type"]
        name, _ = tag_property(resource_type)
        raw = properties.get(name) or []
        tags = raw if isinstance(raw, dict) else {t.get("Key"): t.get("Value") for t in raw}
        missing = [f"{k}={v}" for k, v in REQUIRED_TAGS.items() if tags.get(k) != v]
        return [f"{resource_type} lacks tag(s) {', '.join(missing)}"] if missing else []


# S3 ---------------------------------------------------------------------------------------------------------


class BucketSseS3(PolicyRule):
    """Every bucket encrypts with SSE-S3 (AES256): the mission's choice, with no KMS key to manage or pay for."""

    rule_id = "SA-S3-1"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set encryption=s3.BucketEncryption.S3_MANAGED on the bucket."

    def check(self, properties, logical_id, template):
        rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algorithms = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
        return [] if algorithms == {"AES256"} else ["bucket does not use SSE-S3 (AES256) encryption"]


class BucketBlocksPublicAccess(PolicyRule):
    """Every bucket blocks all four kinds of public access; nothing in this stack is meant to be public."""

    rule_id = "SA-S3-2"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set block_public_access=s3.BlockPublicAccess.BLOCK_ALL on the bucket."
    SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")

    def check(self, properties, logical_id, template):
        block = properties.get("PublicAccessBlockConfiguration", {})
        open_settings = [s for s in self.SETTINGS if block.get(s) is not True]
        return [f"bucket does not set {', '.join(open_settings)}"] if open_settings else []


class BucketDeniesInsecureTransport(PolicyRule):
    """Every bucket has a bucket policy that denies requests not made over TLS (aws:SecureTransport=false)."""

    rule_id = "SA-S3-3"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set enforce_ssl=True on the bucket."

    def check(self, properties, logical_id, template):
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::S3::BucketPolicy":
                continue
            if resource["Properties"].get("Bucket") != {"Ref": logical_id}:
                continue
            for statement in resource["Properties"].get("PolicyDocument", {}).get("Statement", []):
                secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
                if statement.get("Effect") == "Deny" and secure in ("false", False):
                    return []
        return ["no bucket policy denies requests without TLS (aws:SecureTransport=false)"]


# IAM --------------------------------------------------------------------------------------------------------

IAM_POLICY_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"})


def _allow_statements(properties: dict) -> list[dict]:
    return [s for s in policy_statements({"Properties": properties}) if s.get("Effect") == "Allow"]


class NoWildcardActions(PolicyRule):
    """No identity policy allows `*`, `service:*` or NotAction: every action is named.

    Why: least privilege. A wildcard grants actions AWS adds later, and hides what the code really calls.
    """

    rule_id = "SA-IAM1"
    resource_types = IAM_POLICY_TYPES
    fix = "List the exact actions the code calls (see TABLE_ACTIONS in main.py)."

    def check(self, properties, logical_id, template):
        resource_type = template["Resources"][logical_id]["Type"]
        problems = []
        for statement in _allow_statements(properties):
            if "NotAction" in statement:
                problems.append("an Allow statement uses NotAction")
            for action in statement_actions(statement):
                if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                    problems.append(f"allows wildcard action {action}")
        return problems


class UnscopedResourcesOnlyWhereUnavoidable(PolicyRule):
    """`Resource: "*"`, or every resource of a service in the account (`arn:…:<service>:<region>:<account>:*`),
    is allowed only for actions that AWS offers no resource scoping for.

    Why: least privilege. Those actions are listed, with a reason, in UNSCOPABLE_ACTIONS. One role is
    exempt by construction: the CloudWatch role an AWS::ApiGateway::Account names may hold the seven
    AmazonAPIGatewayPushToCloudWatchLogs actions on the account's log groups, because API Gateway requires
    exactly that for every REST API in the account and region (SA-DEP4, rain#163).
    """

    rule_id = "SA-IAM2"
    resource_types = IAM_POLICY_TYPES
    fix = "Scope the statement to the resource's ARN, or (only if AWS has no resource types) add the action to UNSCOPABLE_ACTIONS."

    def check(self, properties, logical_id, template):
        resource_type = template["Resources"][logical_id]["Type"]
        problems = []
        for statement in _allow_statements(properties):
            resources = [_arn_text(r) for r in statement_resources(statement)]
            unscoped = [r for r in resources if r == "*" or ACCOUNT_WIDE_ARN.match(PSEUDO_PARAMETER.sub("x", r))]
            if "NotResource" in statement or unscoped:
                scopable = sorted(set(statement_actions(statement)) - UNSCOPABLE_ACTIONS)
                if scopable and not self._is_api_gateway_logging_grant(logical_id, template, scopable, unscoped):
                    where = "every resource (*)" if "*" in unscoped or not unscoped else ", ".join(unscoped)
                    problems.append(f"allows {', '.join(map(str, scopable))} on {where}")
        return problems

    @staticmethod
    def _is_api_gateway_logging_grant(logical_id, template, actions, resources) -> bool:
        account_roles = {
            (r.get("Properties", {}).get("CloudWatchRoleArn") or {}).get("Fn::GetAtt", [None])[0]
            for r in template["Resources"].values()
            if r.get("Type") == "AWS::ApiGateway::Account"
        }
        return (
            logical_id in account_roles
            and set(actions) <= API_GATEWAY_LOGGING_ACTIONS
            and set(resources) == {ACCOUNT_LOG_GROUPS}
        )


class NoAwsManagedPolicies(PolicyRule):
    """Roles carry no AWS managed policies: those are broad, change without notice, and hide the real grant."""

    rule_id = "SA-IAM3"
    resource_types = frozenset({"AWS::IAM::Role"})
    fix = "Replace the managed policy with an inline policy that names the exact actions and resources."

    def check(self, properties, logical_id, template):
        return [
            f"role has AWS managed policy {_arn_text(arn)}"
            for arn in properties.get("ManagedPolicyArns", [])
            if ":iam::aws:policy/" in _arn_text(arn)
        ]


def _arn_text(arn) -> str:
    """An ARN that may be an Fn::Join with pseudo parameters, as readable text."""
    if isinstance(arn, str):
        return arn
    if isinstance(arn, dict) and "Fn::Join" in arn:
        delimiter, parts = arn["Fn::Join"]
        return delimiter.join(_arn_text(p) for p in parts)
    if isinstance(arn, dict) and "Fn::Sub" in arn:
        return arn["Fn::Sub"] if isinstance(arn["Fn::Sub"], str) else arn["Fn::Sub"][0]
    if isinstance(arn, dict) and "Ref" in arn:
        return "${" + arn["Ref"] + "}"
    return str(arn)


class InvokePermissionScopedToApi(PolicyRule):
    """API Gateway may invoke a function only from an API of this stack (SourceArn names the RestApi).

    Why: without SourceArn, any API Gateway API in any account could invoke the function.
    """

    rule_id = "SA-IAM4"
    resource_types = frozenset({"AWS::Lambda::Permission"})
    fix = "Use apigateway.LambdaIntegration (it scopes SourceArn to the API and method)."

    def check(self, properties, logical_id, template):
        if properties.get("Principal") != "apigateway.amazonaws.com":
            return []
        apis = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::RestApi"}
        if not apis & _refs(properties.get("SourceArn")):
            return ["API Gateway invoke permission is not scoped to a RestApi of this stack (SourceArn)"]
        return []


def _refs(value) -> set[str]:
    if isinstance(value, dict):
        found = {value["Ref"]} if "Ref" in value else set()
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


# Observability ------------------------------------------------------------------------------------------------


class NoApiDataTracing(PolicyRule):
    """No API stage logs full requests and responses: data tracing would write request bodies to logs."""

    rule_id = "SA-OBS1"
    resource_types = frozenset({"AWS::ApiGateway::Stage"})
    fix = "Set data_trace_enabled=False in the stage's deploy options."

    def check(self, properties, logical_id, template):
        traced = [s.get("HttpMethod", "*") for s in properties.get("MethodSettings", []) if s.get("DataTraceEnabled")]
        return [f"stage has data tracing on for {', '.join(traced)}"] if traced else []


class LogGroupRetention(PolicyRule):
    """Every log group has a retention period: logs kept forever cost money and outlive their use."""

    rule_id = "SA-OBS2"
    resource_types = frozenset({"AWS::Logs::LogGroup"})
    fix = "Set retention on the log group (main.py's _build_log_group does)."

    def check(self, properties, logical_id, template):
        return [] if properties.get("RetentionInDays") else ["log group has no retention (kept forever)"]


class FunctionActiveTracing(PolicyRule):
    """Every function traces with X-Ray (TracingConfig Active), so requests are followed end to end."""

    rule_id = "SA-OBS3"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Set tracing=lambda_.Tracing.ACTIVE on the function."

    def check(self, properties, logical_id, template):
        mode = properties.get("TracingConfig", {}).get("Mode")
        return [] if mode == "Active" else ["function does not have active X-Ray tracing"]


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
