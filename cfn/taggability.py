"""Which CloudFormation resource types take tags, and where, from the resource schemas cfn-lint ships.

The schemas are CloudFormation's own registry schemas: a type is taggable when its schema says
`tagging.taggable` and names a `tagProperty`. Custom resources (`Custom::*`) have no schema and take no tags.
"""

from functools import cache

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

SCHEMA_REGION = "us-east-1"


@cache
def tag_property(resource_type: str) -> tuple[str, str] | None:
    """(property name, "array" | "object") if the type takes tags, else None."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    except ResourceNotFoundError:
        return None
    tagging = schema.get("tagging") or {}
    if not tagging.get("taggable") or "tagProperty" not in tagging:
        return None
    name = tagging["tagProperty"].rsplit("/", 1)[-1]
    return name, schema.get("properties", {}).get(name, {}).get("type", "array")
