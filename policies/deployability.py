"""Deployability rules: would this template deploy into a fresh account and tear down to nothing?

These are relations between resources (ordering, permissions AWS checks at create time, deletion order),
so they read the whole rendered template through its dependency graph. They run at synthesis beside the
other rules, so `cdk synth` and `cdk deploy` refuse a stack that breaks one. Each docstring names the
pitfall's source. What they cannot see (IAM propagation, quotas, service-side checks) only a deploy shows.
"""

from __future__ import annotations

import re

from policies.rules import ACCOUNT_LOG_GROUPS, API_GATEWAY_LOGGING_ACTIONS, PolicyRule, _allow_statements, _arn_text
from policies.template_graph import DependencyGraph, as_list, references, statement_actions, statement_resources

RETAINING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"

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

SECRET_LIKE_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY", re.I)
# A reference to a secret (its ARN or name in Secrets Manager) is configuration, not a secret.
SECRET_REFERENCE_SUFFIX = re.compile(r"_(ARN|NAME|ID)$", re.I)


def _ref(value) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
    return None


def _is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE


def _provider_functions(graph: DependencyGraph) -> set[str]:
    """Functions that serve custom resources (the ServiceToken's target)."""
    return {
        _ref(resource.get("Properties", {}).get("ServiceToken"))
        for resource in graph.resources.values()
        if _is_custom_resource(resource.get("Type", ""))
    } - {None}


def _role_policy_documents(graph: DependencyGraph, role_id: str) -> list[tuple[str, dict]]:
    """(resource type, properties) of the role and of every policy resource attached to it."""
    role = graph.resources[role_id]
    attached = [
        (resource["Type"], resource.get("Properties", {}))
        for resource in graph.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in resource.get("Properties", {}).get("Roles", [])
    ]
    return [(role["Type"], role.get("Properties", {})), *attached]


def _attached_policies(graph: DependencyGraph, role_id: str) -> set[str]:
    return {
        logical_id
        for logical_id, resource in graph.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items()
        if {"Ref": role_id} in resource.get("Properties", {}).get("Roles", [])
    }


# Teardown -----------------------------------------------------------------------------------------------------


class NothingRetained(PolicyRule):
    """No resource survives `cdk destroy`: no Retain, RetainExceptOnCreate or Snapshot policy, no deletion
    protection, no S3 Object Lock.

    Why: the mission says the stack tears down neatly; a retained or protected resource outlives the stack
    and, with a fixed name, blocks the next deploy. The only exception is the table when the deployer sets
    retain_data=true, acknowledged in policies/acknowledgements.py (CloudFormation "DeletionPolicy
    attribute"; DynamoDB "Using deletion protection").
    """

    rule_id = "SA-DEP1"
    fix = "Use RemovalPolicy.DESTROY (and no deletion protection); for data you must keep, use retain_data=true."

    def applies_to(self, resource_type: str) -> bool:
        return True

    def check(self, properties, logical_id, template):
        resource = template["Resources"][logical_id]
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


class FunctionLogsToStackLogGroup(PolicyRule):
    """Every Lambda function, CDK's own included, logs to a log group of this stack.

    Why: otherwise Lambda creates /aws/lambda/<name> on first invoke, without retention, and `cdk destroy`
    leaves it behind (aws-cdk#26553, serverless-application-model#1216).
    """

    rule_id = "SA-DEP2"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Pass log_group= to the function (CDK's providers: point LoggingConfig.LogGroup at a stack log group)."

    def check(self, properties, logical_id, template):
        group = _ref(properties.get("LoggingConfig", {}).get("LogGroup"))
        if template["Resources"].get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            return ["function has no LoggingConfig.LogGroup of this stack; Lambda would create one it never deletes"]
        return []


class CustomResourceDeletedBeforeItsProvider(PolicyRule):
    """Every custom resource depends on its provider's function, role, attached policies and log group.

    Why: CloudFormation deletes a resource before what it depends on. If the provider's policy or role is
    deleted first, the Delete event runs without permissions and the stack fails to delete (aws-cdk#9840).
    """

    rule_id = "SA-DEP5"
    fix = "Add node.add_dependency(<provider part>) on the custom resource (CDK's providers already do)."

    def applies_to(self, resource_type: str) -> bool:
        return _is_custom_resource(resource_type)

    def check(self, properties, logical_id, template):
        graph = self._view.graph(template)
        function_id = _ref(properties.get("ServiceToken"))
        function = graph.resources.get(function_id)
        if function is None or function.get("Type") != "AWS::Lambda::Function":
            return []
        parts = {function_id}
        function_properties = function.get("Properties", {})
        role_id = _ref(function_properties.get("Role"))
        if role_id in graph.resources:
            parts |= {role_id, *_attached_policies(graph, role_id)}
        group_id = _ref(function_properties.get("LoggingConfig", {}).get("LogGroup"))
        if group_id in graph.resources:
            parts.add(group_id)
        missing = sorted(p for p in parts if not graph.depends_on(logical_id, p))
        return [f"custom resource does not depend on its provider's {', '.join(missing)}"] if missing else []


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
        graph = self._view.graph(template)
        bucket_id = _ref(properties.get("DestinationBucketName"))
        if graph.resources.get(bucket_id, {}).get("Type") != "AWS::S3::Bucket":
            return []
        auto_deletes = [
            k
            for k, v in graph.of_type("Custom::S3AutoDeleteObjects").items()
            if _ref(v.get("Properties", {}).get("BucketName")) == bucket_id
        ]
        if not auto_deletes:
            return [f"writes into {bucket_id}, which has no auto-delete: destroy cannot delete it once written"]
        if not any(graph.depends_on(logical_id, a) for a in auto_deletes):
            return [f"writes into {bucket_id} but does not depend on its auto-delete custom resource"]
        return []


# Fresh account ------------------------------------------------------------------------------------------------


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
        graph = self._view.graph(template)
        problems = []
        if not any(graph.depends_on(logical_id, a) for a in graph.of_type("AWS::ApiGateway::Account")):
            problems.append("stage logs but does not depend on an AWS::ApiGateway::Account")
        api = _ref(properties.get("RestApiId"))
        expected = f"API-Gateway-Execution-Logs_${{{api}}}/{properties.get('StageName')}"
        groups = [
            k
            for k, v in graph.of_type("AWS::Logs::LogGroup").items()
            if _arn_text(v.get("Properties", {}).get("LogGroupName")) == expected
        ]
        if not any(graph.depends_on(logical_id, g) for g in groups):
            problems.append(f"stage logs but does not depend on a log group of this stack named {expected}")
        return problems


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
        graph = self._view.graph(template)
        role_id = _ref(properties.get("CloudWatchRoleArn"))
        if graph.resources.get(role_id, {}).get("Type") != "AWS::IAM::Role":
            return ["CloudWatchRoleArn does not name a role of this stack, so its permissions cannot be checked"]
        problems = []
        trust = graph.resources[role_id].get("Properties", {}).get("AssumeRolePolicyDocument", {})
        principals = {
            service
            for s in trust.get("Statement", [])
            if s.get("Effect") == "Allow"
            for service in as_list(s.get("Principal", {}).get("Service", []))
        }
        if "apigateway.amazonaws.com" not in principals:
            problems.append(f"role {role_id} cannot be assumed by apigateway.amazonaws.com")
        granted: set[str] = set()
        for _, role_properties in _role_policy_documents(graph, role_id):
            if any(API_GATEWAY_LOGGING_MANAGED_POLICY in _arn_text(a) for a in role_properties.get("ManagedPolicyArns", [])):
                granted |= API_GATEWAY_LOGGING_ACTIONS
            for statement in _allow_statements(role_properties):
                if {_arn_text(r) for r in statement_resources(statement)} & ACCOUNT_WIDE_LOG_RESOURCES:
                    granted |= set(statement_actions(statement))
        missing = sorted(API_GATEWAY_LOGGING_ACTIONS - granted)
        if missing:
            problems.append(f"role {role_id} lacks {', '.join(missing)} on the account's log groups")
        if not any(graph.depends_on(logical_id, api) for api in graph.of_type("AWS::ApiGateway::RestApi")):
            problems.append("the Account does not depend on a RestApi of this stack (rain#163 race)")
        return problems


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
        resource_type = template["Resources"][logical_id]["Type"]
        problems = []
        for name in PHYSICAL_NAME_PROPERTIES:
            if name not in properties or (name == "Name" and resource_type not in NAME_IS_PHYSICAL_FOR):
                continue
            if not references(properties[name]) & set(template["Resources"]):
                problems.append(f"{name} is fixed ({_arn_text(properties[name])})")
        return problems


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


# The application function's code --------------------------------------------------------------------------------


def _code_bucket(graph: DependencyGraph, code: dict) -> tuple[str | None, str | None]:
    """(bucket id, deployment id) of a function's S3 code: the bucket directly, or through a CDK BucketDeployment."""
    for target in references(code.get("S3Bucket")):
        resource = graph.resources.get(target, {})
        if resource.get("Type") == "AWS::S3::Bucket":
            return target, None
        if resource.get("Type") == "Custom::CDKBucketDeployment":
            return _ref(resource.get("Properties", {}).get("DestinationBucketName")), target
    return None, None


class ApplicationCodeFromStackBucket(PolicyRule):
    """Every function that is not a custom-resource provider takes its code from a bucket of this stack.

    Why: the mission deploys the function from an artifacts bucket the stack creates and manages; code
    from elsewhere (CDK's bootstrap bucket, inline code) is not covered by its encryption, TLS-only policy,
    versioning and teardown.
    """

    rule_id = "SA-DEP9"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Copy the code into the artifacts bucket (BucketDeployment) and use lambda_.Code.from_bucket()."

    def check(self, properties, logical_id, template):
        graph = self._view.graph(template)
        if logical_id in _provider_functions(graph):
            return []
        bucket_id, _ = _code_bucket(graph, properties.get("Code", {}))
        if graph.resources.get(bucket_id, {}).get("Type") != "AWS::S3::Bucket":
            return ["function code does not come from a bucket of this stack"]
        return []


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
        graph = self._view.graph(template)
        if logical_id in _provider_functions(graph):
            return []
        code = properties.get("Code", {})
        bucket_id, deployment_id = _code_bucket(graph, code)
        bucket = graph.resources.get(bucket_id, {})
        if bucket.get("Type") != "AWS::S3::Bucket":
            return []
        problems = []
        if bucket.get("Properties", {}).get("VersioningConfiguration", {}).get("Status") != "Enabled":
            problems.append(f"code bucket {bucket_id} is not versioned")
        if not code.get("S3ObjectVersion"):
            problems.append("Code.S3ObjectVersion is not set")
        if deployment_id and graph.resources[deployment_id].get("Properties", {}).get("Extract", True) is not False:
            problems.append(f"{deployment_id} extracts the zip instead of copying it")
        return problems


class NoSecretsInEnvironment(PolicyRule):
    """No function has an environment variable whose name looks like a secret (PASSWORD, SECRET, TOKEN,
    API_KEY, PRIVATE_KEY, CREDENTIAL, ACCESS_KEY); a name ending in _ARN, _NAME or _ID refers to a secret
    in Secrets Manager and is allowed.

    Why: environment variables are readable by anyone who can read the function's configuration, and are
    stored in the template (Lambda developer guide, "Securing environment variables").
    """

    rule_id = "SA-SEC1"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Keep the secret in Secrets Manager, pass its ARN (…_SECRET_ARN) and read it at run time."

    def check(self, properties, logical_id, template):
        names = properties.get("Environment", {}).get("Variables", {})
        return [
            f"environment variable {name} looks like a secret"
            for name in sorted(names)
            if SECRET_LIKE_NAME.search(name) and not SECRET_REFERENCE_SUFFIX.search(name)
        ]


class StageTracingAccessLogsThrottling(PolicyRule):
    """Every API stage has X-Ray tracing, an access log, and throttling for all methods, on the rendered
    template.

    Why: the mission asks for X-Ray and logs on API Gateway; throttling bounds cost and load. Property
    overrides and escape hatches change the template after cdk-nag has read the construct's properties,
    so this checks what CloudFormation will receive.
    """

    rule_id = "SA-OBS4"
    resource_types = frozenset({"AWS::ApiGateway::Stage"})
    fix = "Set tracing_enabled, access_log_destination and throttling_rate_limit/burst_limit in deploy_options."

    def check(self, properties, logical_id, template):
        problems = []
        if properties.get("TracingEnabled") is not True:
            problems.append("stage has no X-Ray tracing")
        if not properties.get("AccessLogSetting", {}).get("DestinationArn"):
            problems.append("stage has no access log")
        all_methods = [
            s
            for s in properties.get("MethodSettings", [])
            if s.get("HttpMethod") == "*" and s.get("ResourcePath") == "/*"
        ]
        if not any(s.get("ThrottlingRateLimit") and s.get("ThrottlingBurstLimit") for s in all_methods):
            problems.append("stage has no throttling (rate and burst) for all methods")
        return problems


DEPLOYABILITY_RULES: tuple[type[PolicyRule], ...] = (
    NothingRetained,
    FunctionLogsToStackLogGroup,
    StageWaitsForLoggingSetup,
    ApiGatewayAccountRoleCanLog,
    CustomResourceDeletedBeforeItsProvider,
    BucketWritersInsideAutoDelete,
    NoCollidingPhysicalNames,
    NoReservedConcurrency,
    ApplicationCodeFromStackBucket,
    ApplicationCodeVersionPinned,
    NoSecretsInEnvironment,
    StageTracingAccessLogsThrottling,
)
