"""Tags: every resource carries the project's tags."""

from cfn.taggability import tag_property
from conventions import REQUIRED_TAGS
from policies.engine import PolicyRule, register

FAMILY = "TAG"


@register
class RequiredTags(PolicyRule):
    """Every resource whose CloudFormation type takes tags carries project and environment tags.

    Why: cost allocation and ownership depend on them, and CDK's own custom-resource providers are
    raw CfnResources that Tags.of() does not reach. Taggability comes from CloudFormation's schemas.
    """

    rule_id = "SA-TAG1"
    fix = "Tag it in app.py (conventions.apply_tags) or, for a raw CfnResource, add a Tags override."

    def applies_to(self, resource_type: str) -> bool:
        return tag_property(resource_type) is not None

    def check(self, properties, logical_id, template):
        resource_type = template.resources[logical_id]["Type"]
        target = tag_property(resource_type)
        if target is None:  # applies_to admits only types that take tags
            return []
        name, _ = target
        raw = properties.get(name) or []
        tags = raw if isinstance(raw, dict) else {t.get("Key"): t.get("Value") for t in raw}
        missing = [f"{k}={v}" for k, v in REQUIRED_TAGS.items() if tags.get(k) != v]
        return [f"{resource_type} lacks tag(s) {', '.join(missing)}"] if missing else []
