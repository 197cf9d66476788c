"""The contract's request-body schemas as API Gateway models in CDK (JsonSchema, draft 4).

Kept apart from api/contract.py, which the local API imports: this module loads aws-cdk-lib, and with it jsii's
Node.js process, which only the app needs.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway


def cdk_json_schema(schema: dict, *, root: bool = True) -> apigateway.JsonSchema:
    """A draft-4 schema (contract.request_model's projection) as CDK's JsonSchema."""
    return apigateway.JsonSchema(
        schema=apigateway.JsonSchemaVersion.DRAFT4 if root else None,
        type=apigateway.JsonSchemaType[schema["type"].upper()] if "type" in schema else None,
        required=schema.get("required"),
        enum=schema.get("enum"),
        not_=cdk_json_schema(schema["not"], root=False) if "not" in schema else None,
        properties={name: cdk_json_schema(field, root=False) for name, field in schema["properties"].items()}
        if "properties" in schema
        else None,
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        pattern=schema.get("pattern"),
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        multiple_of=schema.get("multipleOf"),
    )
