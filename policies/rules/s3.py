"""S3 (SA-S, as cdk-nag's S rules): how every bucket protects what it holds."""

from cfn.template import as_list, reference
from policies.engine import PolicyRule, register

FAMILY = "S"


@register
class BucketSseS3(PolicyRule):
    """Every bucket encrypts with SSE-S3 (AES256): the project's choice, with no KMS key to manage or pay for."""

    rule_id = "SA-S1"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set encryption=s3.BucketEncryption.S3_MANAGED on the bucket."

    def check(self, properties, logical_id, template):
        rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algorithms = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
        return [] if algorithms == {"AES256"} else ["bucket does not use SSE-S3 (AES256) encryption"]


@register
class BucketBlocksPublicAccess(PolicyRule):
    """Every bucket blocks all four kinds of public access; nothing in this stack is meant to be public."""

    rule_id = "SA-S2"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set block_public_access=s3.BlockPublicAccess.BLOCK_ALL on the bucket."
    SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")

    def check(self, properties, logical_id, template):
        block = properties.get("PublicAccessBlockConfiguration", {})
        open_settings = [s for s in self.SETTINGS if block.get(s) is not True]
        return [f"bucket does not set {', '.join(open_settings)}"] if open_settings else []


@register
class BucketDeniesInsecureTransport(PolicyRule):
    """Every bucket has a bucket policy that denies requests not made over TLS (aws:SecureTransport=false)."""

    rule_id = "SA-S3"
    resource_types = frozenset({"AWS::S3::Bucket"})
    fix = "Set enforce_ssl=True on the bucket."

    def check(self, properties, logical_id, template):
        for policy in template.of_type("AWS::S3::BucketPolicy").values():
            if reference(policy["Properties"].get("Bucket")) != logical_id:
                continue
            for statement in as_list(policy["Properties"].get("PolicyDocument", {}).get("Statement", [])):
                secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
                if statement.get("Effect") == "Deny" and secure in ("false", False):
                    return []
        return ["no bucket policy denies requests without TLS (aws:SecureTransport=false)"]
