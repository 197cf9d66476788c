"""Applies the project's tags to every taggable resource, including CDK's raw custom-resource providers.

`Tags.of()` reaches only constructs that implement ITaggable. CDK builds the providers behind some
custom resources (S3 auto-delete, for one) as raw `CfnResource`s of taggable types that it never tags,
so a second mutating Aspect writes the tags onto those directly.
"""

import jsii
from aws_cdk import AspectPriority, Aspects, CfnResource, IAspect, TagManager, Tags
from constructs import IConstruct

from policies.taggability import tag_property

REQUIRED_TAGS = {"project": "serverless-automation", "environment": "production"}


def apply_tags(scope: IConstruct, tags: dict[str, str] = REQUIRED_TAGS) -> None:
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
