"""Deployability (SA-DEP): would this template deploy into a fresh account and tear down to nothing?

These are relations between resources (ordering, permissions AWS checks at create time, deletion order), so
they read the whole rendered template through its dependencies (cfn.template.Template). They run at synthesis
beside the other rules, so `cdk synth` and `cdk deploy` refuse a stack that breaks one. Each docstring names the
pitfall's source. What they cannot see (IAM propagation, quotas, service-side checks) only a deploy shows.
"""

from cfn.template import (
    Template,
    allow_statements,
    arn_text,
    as_list,
    is_custom_resource,
    reference,
    references,
    statement_actions,
    statement_resources,
)
from conventions import ACCOUNT_LOG_GROUPS, API_GATEWAY_LOGGING_ACTIONS
from policies.engine import PolicyRule, register

FAMILY = "DEP"
RETAINING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})

API_GATEWAY_LOGGING_MANAGED_POLICY = "policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
ACCOUNT_WIDE_LOG_RESOURCES = frozenset(
    {
        "*",
        ACCOUNT_LOG_GROUPS,
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*",
    }
)

# Properties that give a resource a fixed physical name (CloudFormation then cannot replace it, and a
# second deploy of the stack, or one after a failed delete, collides with it).
PHYSICAL_NAME_PROPERTIES = (
    "BucketName",
    "TableName",
    "FunctionName",
    "RoleName",
    "ManagedPolicyName",
    "InstanceProfileName",
    "LogGroupName",
    "TopicName",
    "QueueName",
    "AlarmName",
    "SecretName",
    "StateMachineName",
    "Name",  # a physical name only for the types in NAME_IS_PHYSICAL_FOR (a RestApi's Name is a label)
)
NAME_IS_PHYSICAL_FOR = frozenset({"AWS::SecretsManager::Secret", "AWS::Events::EventBus", "AWS::SSM::Parameter"})


def _code_bucket(template: Template, code: dict) -> tuple[str | None, str | None]:
    """(bucket id, deployment id) of a function's S3 code: the bucket directly, or through a CDK BucketDeployment."""
    for target in references(code.get("S3Bucket")):
        resource = template.resource(target)
        if resource.get("Type") == "AWS::S3::Bucket":
            return target, None
        if resource.get("Type") == "Custom::CDKBucketDeployment":
            return reference(resource.get("Properties", {}).get("DestinationBucketName")), target
    return None, None


@register
class NothingRetained(PolicyRule):
    """No resource survives `cdk destroy`: no Retain, RetainExceptOnCreate or Snapshot policy, no deletion
    protection, no S3 Object Lock.

    Why: `cdk destroy` must remove everything; a retained or protected resource outlives the stack
    and, with a fixed name, blocks the next deploy. The only exception is the table when the deployer sets
    retain_data=true, acknowledged in policies/acknowledgements.py (CloudFormation "DeletionPolicy
    attribute"; DynamoDB "Using deletion protection").
    """

    rule_id = "SA-DEP1"
    fix = "Use RemovalPolicy.DESTROY (and no deletion protection); for data you must keep, use retain_data=true."

    def applies_to(self, resource_type: str) -> bool:
        return True

    def check(self, properties, logical_id, template):
        resource = template.resources[logical_id]
        problems = [
            f"{attribute} is {resource[attribute]}"
            for attribute in ("DeletionPolicy", "UpdateReplacePolicy")
            if resource.get(attribute) in RETAINING_POLICIES
        ]
        for protection in ("DeletionProtectionEnabled", "DeletionProtection"):
            if properties.get(protection) in (True, "true", "ENABLED"):
                problems.append(f"{protection} is on")
        if properties.get("ObjectLockEnabled") in (True, "true"):
            problems.append("S3 Object Lock is on (locked objects cannot be deleted)")
        return [f"resource would survive cdk destroy: {'; '.join(problems)}"] if problems else []


@register
class FunctionLogsToStackLogGroup(PolicyRule):
    """Every Lambda function, CDK's own included, logs to a log group of this stack.

    Why: otherwise Lambda creates /aws/lambda/<name> on first invoke, without retention, and `cdk destroy`
    leaves it behind (aws-cdk#26553, serverless-application-model#1216).
    """

    rule_id = "SA-DEP2"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Pass log_group= to the function (CDK's providers: point LoggingConfig.LogGroup at a stack log group)."

    def check(self, properties, logical_id, template):
        group = reference(properties.get("LoggingConfig", {}).get("LogGroup"))
        if template.resource(group).get("Type") != "AWS::Logs::LogGroup":
            return ["function has no LoggingConfig.LogGroup of this stack; Lambda would create one it never deletes"]
        return []


@register
class StageWaitsForLoggingSetup(PolicyRule):
    """A stage with execution logging depends on the AWS::ApiGateway::Account and on its execution log group.

    Why: without the account's CloudWatch role the stage fails ("CloudWatch Logs role ARN must be set in
    account settings to enable logging", anomalyco/sst#1556); without the group API Gateway creates
    `API-Gateway-Execution-Logs_<api>/<stage>` itself, which the stack then neither owns nor deletes.
    """

    rule_id = "SA-DEP3"
    resource_types = frozenset({"AWS::ApiGateway::Stage"})
    fix = "Create the Account and the named log group in the stack and stage.node.add_dependency() on both."

    def check(self, properties, logical_id, template):
        levels = [s.get("LoggingLevel", "OFF") for s in properties.get("MethodSettings", [])]
        traced = any(s.get("DataTraceEnabled") for s in properties.get("MethodSettings", []))
        if all(level == "OFF" for level in levels) and not traced:
            return []
        problems = []
        if not any(template.depends_on(logical_id, a) for a in template.of_type("AWS::ApiGateway::Account")):
            problems.append("stage logs but does not depend on an AWS::ApiGateway::Account")
        api = reference(properties.get("RestApiId"))
        expected = f"API-Gateway-Execution-Logs_${{{api}}}/{properties.get('StageName')}"
        groups = [
            k
            for k, v in template.of_type("AWS::Logs::LogGroup").items()
            if arn_text(v.get("Properties", {}).get("LogGroupName")) == expected
        ]
        if not any(template.depends_on(logical_id, g) for g in groups):
            problems.append(f"stage logs but does not depend on a log group of this stack named {expected}")
        return problems


@register
class ApiGatewayAccountRoleCanLog(PolicyRule):
    """The role AWS::ApiGateway::Account names can be assumed by API Gateway and has the seven actions of
    AmazonAPIGatewayPushToCloudWatchLogs on every log group of the account and region; the Account waits
    for a RestApi of the stack.

    Why: API Gateway validates the role when the setting is made and fails the Account with "The role ARN
    does not have required permissions configured" otherwise; the setting serves every REST API in the
    account and region (aws-cloudformation/rain#163, cloudformation-coverage-roadmap#2312, re:Post "least
    privilege cloudwatch logs policy for api gateway"). rain#163 also shows the Account racing the API.
    """

    rule_id = "SA-DEP4"
    resource_types = frozenset({"AWS::ApiGateway::Account"})
    fix = "Grant the seven actions inline on arn:<partition>:logs:<region>:<account>:* and depend on the RestApi."

    def check(self, properties, logical_id, template):
        role_id = reference(properties.get("CloudWatchRoleArn"))
        if role_id is None or template.resource(role_id).get("Type") != "AWS::IAM::Role":
            return ["CloudWatchRoleArn does not name a role of this stack, so its permissions cannot be checked"]
        problems = []
        trust = template.properties(role_id).get("AssumeRolePolicyDocument", {})
        principals = {
            service
            for s in trust.get("Statement", [])
            if s.get("Effect") == "Allow"
            for service in as_list(s.get("Principal", {}).get("Service", []))
        }
        if "apigateway.amazonaws.com" not in principals:
            problems.append(f"role {role_id} cannot be assumed by apigateway.amazonaws.com")
        granted: set[str] = set()
        for role_properties in template.role_documents(role_id):
            if any(
                API_GATEWAY_LOGGING_MANAGED_POLICY in arn_text(a) for a in role_properties.get("ManagedPolicyArns", [])
            ):
                granted |= API_GATEWAY_LOGGING_ACTIONS
            for statement in allow_statements(role_properties):
                if {arn_text(r) for r in statement_resources(statement)} & ACCOUNT_WIDE_LOG_RESOURCES:
                    granted |= set(statement_actions(statement))
        missing = sorted(API_GATEWAY_LOGGING_ACTIONS - granted)
        if missing:
            problems.append(f"role {role_id} lacks {', '.join(missing)} on the account's log groups")
        if not any(template.depends_on(logical_id, api) for api in template.of_type("AWS::ApiGateway::RestApi")):
            problems.append("the Account does not depend on a RestApi of this stack (rain#163 race)")
        return problems


@register
class CustomResourceDeletedBeforeItsProvider(PolicyRule):
    """Every custom resource depends on its provider's function, role, attached policies and log group.

    Why: CloudFormation deletes a resource before what it depends on. If the provider's policy or role is
    deleted first, the Delete event runs without permissions and the stack fails to delete (aws-cdk#9840).
    """

    rule_id = "SA-DEP5"
    fix = "Add node.add_dependency(<provider part>) on the custom resource (CDK's providers already do)."

    def applies_to(self, resource_type: str) -> bool:
        return is_custom_resource(resource_type)

    def check(self, properties, logical_id, template):
        function_id = reference(properties.get("ServiceToken"))
        if function_id is None or template.resource(function_id).get("Type") != "AWS::Lambda::Function":
            return []
        parts = {function_id}
        function_properties = template.properties(function_id)
        role_id = reference(function_properties.get("Role"))
        if role_id is not None and role_id in template.resources:
            parts |= {role_id, *template.policies_attached_to(role_id)}
        group_id = reference(function_properties.get("LoggingConfig", {}).get("LogGroup"))
        if group_id is not None and group_id in template.resources:
            parts.add(group_id)
        missing = sorted(p for p in parts if not template.depends_on(logical_id, p))
        return [f"custom resource does not depend on its provider's {', '.join(missing)}"] if missing else []


@register
class BucketWritersInsideAutoDelete(PolicyRule):
    """Every custom resource that writes into a bucket depends on that bucket's auto-delete custom resource.

    Why: then auto-delete exists before anything is written and is deleted after every writer. If a first
    deploy fails after the copy and before auto-delete exists, the rollback cannot delete the non-empty
    (versioned) bucket and the stack ends in ROLLBACK_FAILED (aws-devtools-labs/aws-blocks PR #437).
    """

    rule_id = "SA-DEP6"
    resource_types = frozenset({"Custom::CDKBucketDeployment"})
    fix = "Set auto_delete_objects=True on the bucket and deployment.node.add_dependency(<its auto-delete resource>)."

    def check(self, properties, logical_id, template):
        bucket_id = reference(properties.get("DestinationBucketName"))
        if template.resource(bucket_id).get("Type") != "AWS::S3::Bucket":
            return []
        auto_deletes = [
            k
            for k, v in template.of_type("Custom::S3AutoDeleteObjects").items()
            if reference(v.get("Properties", {}).get("BucketName")) == bucket_id
        ]
        if not auto_deletes:
            return [f"writes into {bucket_id}, which has no auto-delete: destroy cannot delete it once written"]
        if not any(template.depends_on(logical_id, a) for a in auto_deletes):
            return [f"writes into {bucket_id} but does not depend on its auto-delete custom resource"]
        return []


@register
class NoCollidingPhysicalNames(PolicyRule):
    """No resource has an explicit physical name unless it is built from another resource's generated id.

    Why: a fixed name collides on a second deploy of the stack, after a failed delete, or when CloudFormation
    must replace the resource ("Name type", CloudFormation User Guide). `API-Gateway-Execution-Logs_<api id>`
    is fine: the id is new on every deploy.
    """

    rule_id = "SA-DEP7"
    fix = "Drop the name and let CloudFormation generate one (read it from the construct's attribute)."

    def applies_to(self, resource_type: str) -> bool:
        return resource_type != "AWS::Lambda::Permission"

    def check(self, properties, logical_id, template):
        resource_type = template.resources[logical_id]["Type"]
        problems = []
        for name in PHYSICAL_NAME_PROPERTIES:
            if name not in properties or (name == "Name" and resource_type not in NAME_IS_PHYSICAL_FOR):
                continue
            if not references(properties[name]) & set(template.resources):
                problems.append(f"{name} is fixed ({arn_text(properties[name])})")
        return problems


@register
class NoReservedConcurrency(PolicyRule):
    """No function reserves concurrency.

    Why: new accounts have a concurrency limit of 10, and Lambda refuses a reservation that leaves fewer
    than 10 unreserved ("decreases account's UnreservedConcurrentExecution below its minimum value";
    aws-samples one-click-generative-ai#3, fhir-works-on-aws-deployment#691).
    """

    rule_id = "SA-DEP8"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Remove reserved_concurrent_executions; use API Gateway throttling to bound load."

    def check(self, properties, logical_id, template):
        if "ReservedConcurrentExecutions" in properties:
            return [f"function reserves concurrency ({properties['ReservedConcurrentExecutions']})"]
        return []


@register
class ApplicationCodeFromStackBucket(PolicyRule):
    """Every function that is not a custom-resource provider takes its code from a bucket of this stack.

    Why: the function is deployed from an artifacts bucket the stack creates and manages; code
    from elsewhere (CDK's bootstrap bucket, inline code) is not covered by its encryption, TLS-only policy,
    versioning and teardown.
    """

    rule_id = "SA-DEP9"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Copy the code into the artifacts bucket (BucketDeployment) and use lambda_.Code.from_bucket()."

    def check(self, properties, logical_id, template):
        if logical_id in template.provider_functions():
            return []
        bucket_id, _ = _code_bucket(template, properties.get("Code", {}))
        if template.resource(bucket_id).get("Type") != "AWS::S3::Bucket":
            return ["function code does not come from a bucket of this stack"]
        return []


@register
class ApplicationCodeVersionPinned(PolicyRule):
    """The application function reads its code with the object version from a versioned bucket, and the
    code zip is copied into it unextracted.

    Why: without a version CloudFormation cannot tell that code under the same key changed, and a rollback
    cannot return to the old code; an extracted copy is not a zip Lambda can read. The BucketDeployment
    returns an empty version id from an unversioned bucket (aws-cdk-lib bucket-deployment handler).
    """

    rule_id = "SA-DEP10"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Version the bucket, pass object_version_ids to Code.from_bucket(), and BucketDeployment(extract=False)."

    def check(self, properties, logical_id, template):
        if logical_id in template.provider_functions():
            return []
        code = properties.get("Code", {})
        bucket_id, deployment_id = _code_bucket(template, code)
        bucket = template.resource(bucket_id)
        if bucket.get("Type") != "AWS::S3::Bucket":
            return []
        problems = []
        if bucket.get("Properties", {}).get("VersioningConfiguration", {}).get("Status") != "Enabled":
            problems.append(f"code bucket {bucket_id} is not versioned")
        if not code.get("S3ObjectVersion"):
            problems.append("Code.S3ObjectVersion is not set")
        if deployment_id and template.properties(deployment_id).get("Extract", True) is not False:
            problems.append(f"{deployment_id} extracts the zip instead of copying it")
        return problems


CLOUDWATCH = "cloudwatch.amazonaws.com"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
ALARM_ACTION_PROPERTIES = ("AlarmActions", "OKActions", "InsufficientDataActions")


@register
class AlarmTopicsLetCloudWatchPublish(PolicyRule):
    """Every SNS topic an alarm notifies lets CloudWatch publish to it.

    Why: an AWS::SNS::TopicPolicy replaces the topic's default policy, whose account-wide Allow is what lets
    CloudWatch publish. With only a TLS Deny (CDK's enforce_ssl) every notification is refused: "alarm ... is not
    authorized to perform: SNS:Publish ... because no resource-based policy allows" (aws-solutions/
    automated-security-response-on-aws#43). A topic encrypted with the AWS managed SNS key cannot be used by
    CloudWatch at all (its key policy cannot be changed; ASFHyP3/hyp3#762). The alarm still changes state, so
    only its history shows the failure. A customer managed key's policy is not read here.
    """

    rule_id = "SA-DEP11"
    resource_types = frozenset({"AWS::CloudWatch::Alarm"})
    fix = (
        "topic.add_to_resource_policy() allowing cloudwatch.amazonaws.com sns:Publish on the topic with "
        "aws:SourceArn of the alarm; no alias/aws/sns key on an alarm's topic."
    )

    def check(self, properties, logical_id, template):
        topics = {
            topic
            for name in ALARM_ACTION_PROPERTIES
            for action in as_list(properties.get(name, []))
            if (topic := reference(action)) and template.resource(topic).get("Type") == "AWS::SNS::Topic"
        }
        problems = []
        for topic in sorted(topics):
            if AWS_MANAGED_SNS_KEY in str(template.properties(topic).get("KmsMasterKeyId", "")):
                problems.append(f"topic {topic} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch cannot use")
            policies = [
                policy_id
                for policy_id, policy in template.of_type("AWS::SNS::TopicPolicy").items()
                if topic in {reference(t) for t in as_list(policy.get("Properties", {}).get("Topics", []))}
            ]
            if policies and not any(
                _lets_cloudwatch_publish(statement, logical_id)
                for policy_id in policies
                for statement in allow_statements(template.properties(policy_id))
            ):
                problems.append(
                    f"topic {topic}'s policy ({', '.join(policies)}) does not let {CLOUDWATCH} publish for this alarm"
                )
        return problems


def _lets_cloudwatch_publish(statement: dict, alarm_id: str) -> bool:
    principal = statement.get("Principal", {})
    services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
    if principal != "*" and CLOUDWATCH not in services:
        return False
    if not {"sns:publish", "sns:*", "*"} & {action.lower() for action in statement_actions(statement)}:
        return False
    source_arns = [
        value
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
        if key.lower() == "aws:sourcearn"
    ]
    return all(alarm_id in references(value) for value in source_arns)
