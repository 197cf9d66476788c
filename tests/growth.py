"""The stack as a team grows it, built by the tests only (the shipped stack stays minimal), and each mistake a
team makes on the way.

The growth: an index-backed query (`GET /items?owner=`: a global secondary index on the items table and
`dynamodb:Query` on that index for the items function), and a second function, fed by the items table's
stream, that writes an audit table, with everything the first function has (its own role, log group, alarm,
tracing, code from the artifacts bucket) and a failure queue for the stream. It is written the way
CONTRIBUTING's recipes say, with the stack's own `_build_*` helpers.

The grown functions have no code here, so their calls are declared (`DECLARED_CALLS`): what the query's code
and the audit function's code would call, and what Lambda's stream poller calls with the audit function's role.
The shipped function's calls are recorded from its real code (tests/test_least_privilege.py).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from app import STACK_ID, build_app
from cfn.template import Template
from main import ServerlessBackendStack
from policies.validation_report import ValidationReport

OWNER_INDEX = "owner"
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")

# Each mistake a team made while growing the stack, refused by the gate (tests/test_growth.py says where).
MISTAKES = (
    "query-granted-on-the-table",
    "audit-write-granted-on-the-items-table",
    "stream-read-granted-on-the-table",
    "log-group-at-cdk-default-retention",
    "no-error-rate-alarm",
    "no-active-tracing",
    "no-log-group-of-the-stack",
    "code-not-from-the-artifacts-bucket",
    "role-shared-with-the-items-function",
    "audit-table-without-point-in-time-recovery",
    "audit-table-with-dynamodbs-owned-key",
    "audit-table-retained-though-retain-data-is-false",
    "stream-without-failure-destination",
    "stream-retried-without-bound",
)


class GrownStack(ServerlessBackendStack):
    def __init__(self, *args, mistakes: frozenset[str] = frozenset(), **kwargs) -> None:
        unknown = mistakes - set(MISTAKES)
        assert not unknown, unknown
        self.mistakes = mistakes
        super().__init__(*args, **kwargs)
        self._build_owner_query()
        self.audit_table = self._build_audit_table()
        self.audit_function = self._build_audit_function()

    def _build_owner_query(self) -> None:
        self.table.add_global_secondary_index(
            index_name=OWNER_INDEX,
            partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING),
        )
        index_arn = f"{self.table.table_arn}/index/{OWNER_INDEX}"
        on_table = "query-granted-on-the-table" in self.mistakes
        self.function_role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.table.table_arn if on_table else index_arn])
        )

    def _build_audit_table(self) -> dynamodb.Table:
        table = self._build_table("AuditTable")
        settings = table.node.default_child
        assert isinstance(settings, dynamodb.CfnTable)
        if "audit-table-without-point-in-time-recovery" in self.mistakes:
            settings.point_in_time_recovery_specification = None
        if "audit-table-with-dynamodbs-owned-key" in self.mistakes:
            settings.sse_specification = None
        if "audit-table-retained-though-retain-data-is-false" in self.mistakes:
            table.apply_removal_policy(RemovalPolicy.RETAIN)
        return table

    def _build_audit_function(self) -> lambda_.Function:
        items_table = self.table.node.default_child
        assert isinstance(items_table, dynamodb.CfnTable)
        items_table.stream_specification = dynamodb.CfnTable.StreamSpecificationProperty(
            stream_view_type="NEW_AND_OLD_IMAGES"
        )
        stream_arn = items_table.attr_stream_arn
        failures = sqs.Queue(
            self,
            "AuditFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        if "log-group-at-cdk-default-retention" in self.mistakes:
            log_group = logs.LogGroup(self, "AuditFunctionLogGroup", removal_policy=RemovalPolicy.DESTROY)
        else:
            log_group = self._build_log_group("AuditFunctionLogGroup")
        written = self.table if "audit-write-granted-on-the-items-table" in self.mistakes else self.audit_table
        stream_resource = self.table.table_arn if "stream-read-granted-on-the-table" in self.mistakes else stream_arn
        role = iam.Role(
            self,
            "AuditFunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),  # pyright: ignore[reportArgumentType]
            inline_policies={
                "AuditFunction": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[written.table_arn]),
                        iam.PolicyStatement(actions=list(STREAM_READ_ACTIONS), resources=[stream_resource]),
                        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[failures.queue_arn]),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                        ),
                        iam.PolicyStatement(
                            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
                        ),
                    ]
                )
            },
        )
        shared = "role-shared-with-the-items-function" in self.mistakes
        function = lambda_.Function(
            self,
            "AuditFunction",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="audit.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass")
            if "code-not-from-the-artifacts-bucket" in self.mistakes
            else self._code_from_artifacts_bucket(),
            memory_size=256,
            timeout=Duration.seconds(15),
            tracing=lambda_.Tracing.DISABLED if "no-active-tracing" in self.mistakes else lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=None if "no-log-group-of-the-stack" in self.mistakes else log_group,
            role=(self.function_role if shared else role).without_policy_updates(),
            environment={"AUDIT_TABLE_NAME": self.audit_table.table_name},
        )
        lambda_.EventSourceMapping(
            self,
            "AuditStream",
            target=function,  # pyright: ignore[reportArgumentType]
            event_source_arn=stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=100,
            bisect_batch_on_error=True,
            retry_attempts=None if "stream-retried-without-bound" in self.mistakes else 3,
            on_failure=None
            if "stream-without-failure-destination" in self.mistakes
            else event_sources.SqsDlq(failures),  # pyright: ignore[reportArgumentType]
        )
        if "no-error-rate-alarm" not in self.mistakes:
            self._build_error_rate_alarm(function, "AuditFunctionErrorRateAlarm", "Audit function")
        return function


class GrownSynthesis:
    """The grown app synthesized under the gate (every plugin, the acknowledgements): template and report."""

    def __init__(self, outdir: Path, mistakes: frozenset[str] = frozenset(), context: dict | None = None):
        app = build_app(
            context,
            outdir=str(outdir),
            builtin_cloud_formation_validation=False,
            stack_type=partial(GrownStack, mistakes=mistakes),
        )
        try:
            app.synth()
            self.refused = False
        except RuntimeError as error:
            assert "ValidationFailed" in str(error), error
            self.refused = True
        self.stack = app.node.find_child(STACK_ID)
        self.template = Template(json.loads((outdir / f"{STACK_ID}.template.json").read_text(encoding="utf-8")))
        self.report = ValidationReport.read(outdir / "validation-report.json")

    def logical_id(self, construct) -> str:
        child = construct.node.default_child
        assert isinstance(child, CfnResource)
        return self.stack.resolve(child.logical_id)
