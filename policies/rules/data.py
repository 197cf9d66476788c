"""Data: every table keeps what protects its items, and every stream consumer keeps what it could not process."""

from cfn.template import reference, reference_attribute
from policies.engine import PolicyRule, register

FAMILY = "DATA"
# Event sources whose records Lambda retries until they expire by default (MaximumRetryAttempts -1): a
# record that always fails blocks its shard for up to a day (DynamoDB streams) or a week (Kinesis).
STREAM_SOURCES = {
    "AWS::DynamoDB::Table": "StreamArn",
    "AWS::DynamoDB::GlobalTable": "StreamArn",
    "AWS::Kinesis::Stream": "Arn",
}
# A table of either kind: CDK's Table (AWS::DynamoDB::Table) and TableV2 (AWS::DynamoDB::GlobalTable), whose
# point-in-time recovery and deletion protection are set per replica.
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"})


def _per_replica(properties: dict, key: str) -> list:
    """A setting of every replica of a GlobalTable, or the table's own for a Table."""
    replicas = properties.get("Replicas")
    return (
        [replica.get(key) for replica in replicas] if isinstance(replicas, list) and replicas else [properties.get(key)]
    )


MAX_RETRY_ATTEMPTS = 10_000


@register
class TablePointInTimeRecovery(PolicyRule):
    """Every DynamoDB table has point-in-time recovery.

    Why: it restores the table to any second of the last 35 days after a bad write or a delete; without it
    nothing does (DynamoDB developer guide, "Point-in-time recovery"; cdk-nag AwsSolutions-DDB3).
    """

    rule_id = "SA-DATA1"
    resource_types = TABLE_TYPES
    fix = (
        "Set point_in_time_recovery_specification="
        "dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True) on the table."
    )

    def check(self, properties, logical_id, template):
        recoveries = _per_replica(properties, "PointInTimeRecoverySpecification")
        if all((recovery or {}).get("PointInTimeRecoveryEnabled") is True for recovery in recoveries):
            return []
        return ["table has no point-in-time recovery (on every replica)"]


@register
class TableEncryptedWithKms(PolicyRule):
    """Every DynamoDB table is encrypted with a KMS key (the AWS managed aws/dynamodb key at least).

    Why: DynamoDB's default owned key cannot be audited in CloudTrail or governed by a key policy; Control
    Tower CT.DYNAMODB.PR.2 requires a KMS key, and the AWS managed one costs nothing to create.
    """

    rule_id = "SA-DATA2"
    resource_types = TABLE_TYPES
    fix = "Set encryption=dynamodb.TableEncryption.AWS_MANAGED (or CUSTOMER_MANAGED with a key of this stack)."

    def check(self, properties, logical_id, template):
        enabled = properties.get("SSESpecification", {}).get("SSEEnabled")
        return [] if enabled in (True, "true") else ["table is not encrypted with a KMS key (SSESpecification)"]


@register
class TableRemovalFollowsRetainData(PolicyRule):
    """Every DynamoDB table follows the retain_data setting: deleted with the stack when it is false; retained
    and deletion-protected when it is true.

    Why: a deployer who sets retain_data=true expects every table's items to survive `cdk destroy`, and one who
    leaves it false expects nothing to be left (CloudFormation "DeletionPolicy attribute").
    """

    rule_id = "SA-DATA3"
    resource_types = TABLE_TYPES
    fix = "Build the table with main.py's removal policy (removal=...) and deletion_protection=config.retain_data."

    def check(self, properties, logical_id, template):
        resource = template.resources[logical_id]
        retain = self.config.retain_data
        expected = "Retain" if retain else "Delete"
        problems = [
            f"{attribute} is {resource.get(attribute, 'Delete')}, not {expected}"
            for attribute in ("DeletionPolicy", "UpdateReplacePolicy")
            if resource.get(attribute, "Delete") != expected
        ]
        if any(bool(protected) != retain for protected in _per_replica(properties, "DeletionProtectionEnabled")):
            problems.append(f"DeletionProtectionEnabled is not {str(retain).lower()}")
        return [f"table does not follow retain_data={str(retain).lower()}: {'; '.join(problems)}"] if problems else []


@register
class StreamConsumerKeepsFailedRecords(PolicyRule):
    """Every event source mapping that reads a stream (DynamoDB or Kinesis) has an on-failure destination and a
    bounded number of retries.

    Why: by default Lambda retries a failing batch until its records expire, which blocks the shard for up
    to 24 hours (DynamoDB) and then drops the records without a trace; a destination keeps what was given up
    on (Lambda developer guide, "Retaining discarded batches for a DynamoDB event source").
    """

    rule_id = "SA-DATA4"
    resource_types = frozenset({"AWS::Lambda::EventSourceMapping"})
    fix = (
        "Pass on_failure= (an SQS or SNS destination) and retry_attempts= (0 to 10,000) to the event source "
        "mapping; grant the function's role the destination's send action."
    )

    def check(self, properties, logical_id, template):
        source = properties.get("EventSourceArn")
        source_type = template.resource(reference(source)).get("Type", "")
        if source_type not in STREAM_SOURCES or STREAM_SOURCES[source_type] != reference_attribute(source):
            return []
        problems = []
        if not properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            problems.append("has no on-failure destination")
        retries = properties.get("MaximumRetryAttempts", -1)
        if not (isinstance(retries, int) and 0 <= retries <= MAX_RETRY_ATTEMPTS):
            problems.append(f"retries without bound (MaximumRetryAttempts {retries})")
        return [f"stream event source mapping {' and '.join(problems)}"] if problems else []
