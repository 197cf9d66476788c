"""What the stack, the app and the policies share: the tags every resource carries, and the IAM facts that
both a grant in the stack and a rule about grants must state the same way.

Kept apart from main.py and policies/ so that neither imports the other (pyproject's import-linter contracts).
"""

import jsii
from aws_cdk import AspectPriority, Aspects, CfnResource, IAspect, TagManager, Tags
from constructs import IConstruct

from cfn.taggability import tag_property

REQUIRED_TAGS = {"project": "serverless-automation", "environment": "production"}

# Actions for which AWS offers no resource-level permissions, so `Resource: "*"` is the only option. Anything
# added here must be checked against the Service Authorization Reference ("Resource types" empty).
UNSCOPABLE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",  # X-Ray: no resource types
        "xray:PutTelemetryRecords",  # X-Ray: no resource types
    }
)

# The actions of AmazonAPIGatewayPushToCloudWatchLogs (API Gateway developer guide, "Permissions for CloudWatch
# logging"): API Gateway validates the account's CloudWatch role against them.
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
# Every log group of the account and region, as the account role's grant names them (rain#163).
ACCOUNT_LOG_GROUPS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"


def apply_tags(scope: IConstruct, tags: dict[str, str] = REQUIRED_TAGS) -> None:
    """The tags on every taggable resource in scope, CDK's raw custom-resource providers included.

    `Tags.of()` reaches only constructs that implement ITaggable. CDK builds the providers behind some custom
    resources (S3 auto-delete, for one) as raw `CfnResource`s of taggable types that it never tags, so a second,
    mutating Aspect writes the tags onto those directly.
    """
    for key, value in tags.items():
        Tags.of(scope).add(key, value)
    Aspects.of(scope).add(TagUntaggableProviders(tags), priority=AspectPriority.MUTATING)


@jsii.implements(IAspect)
class TagUntaggableProviders:
    """Writes the tags onto raw CfnResources whose CloudFormation type takes tags but that Tags.of() skips."""

    def __init__(self, tags: dict[str, str]):
        self._tags = dict(sorted(tags.items()))

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or TagManager.is_taggable(node):
            return
        target = tag_property(node.cfn_resource_type)
        if target is None:
            return
        name, shape = target
        if shape == "object":
            node.add_property_override(name, self._tags)
        else:
            node.add_property_override(name, [{"Key": k, "Value": v} for k, v in self._tags.items()])
