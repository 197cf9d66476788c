"""Each requirement of the stack, asserted on the synthesized template (one behaviour per test)."""

import json
import re
import shutil
from collections import Counter

import pytest
from aws_cdk import FileSystem
from aws_cdk import aws_lambda as lambda_

from api import contract
from main import CODE_KEY_PREFIX, LAMBDA_PACKAGE_EXCLUDES, LAMBDA_SOURCE
from cfn.taggability import tag_property
from cfn.template import Template, as_list, policy_statements, references, statement_actions
from config import LOG_RETENTION_DAYS, ServiceConfig
from conftest import ITEMS_HANDLER
from conventions import REQUIRED_TAGS, UNSCOPABLE_ACTIONS

API_GATEWAY_TIMEOUT_SECONDS = 29
# The API's shape comes from the contract: one method (and one invoke permission) per operation, one resource
# per path segment, one model per request-body schema.
OPERATIONS = contract.operations()
PATH_SEGMENTS = {"/".join(path.split("/")[: i + 1]) for path, _ in OPERATIONS for i in range(1, path.count("/") + 1)}
BODY_SCHEMAS = {contract.request_body_schema_name(path, method) for path, method in OPERATIONS} - {None}

# The whole inventory, each entry with its reason. An unplanned resource fails test_inventory_is_exactly_planned.
PLANNED_INVENTORY = {
    "AWS::S3::Bucket": (1, "artifacts bucket holding the function's code zip"),
    "AWS::S3::BucketPolicy": (1, "TLS-only deny, plus CDK's grant to the auto-delete provider"),
    "Custom::S3AutoDeleteObjects": (1, "empties the versioned bucket so `cdk destroy` can delete it"),
    "Custom::CDKBucketDeployment": (1, "copies the code zip into the artifacts bucket"),
    "AWS::Lambda::LayerVersion": (1, "AWS CLI layer the bucket deployment handler runs `aws s3 cp` with"),
    "AWS::Lambda::Function": (3, "the items function, and CDK's bucket-deployment and auto-delete handlers"),
    "AWS::IAM::Role": (4, "items function, API Gateway logging, and one per CDK custom-resource handler"),
    "AWS::IAM::Policy": (1, "CDK's bucket-deployment handler: read the asset, write the artifacts bucket"),
    "AWS::Logs::LogGroup": (5, "items function, CDK handlers (2), API access log, API execution log"),
    "AWS::DynamoDB::Table": (1, "the items table"),
    "AWS::ApiGateway::RestApi": (1, "the REST API (X-Ray tracing needs REST, not HTTP APIs)"),
    "AWS::ApiGateway::Deployment": (1, "a deployment of the API"),
    "AWS::ApiGateway::Stage": (1, "the prod stage: tracing, logs, metrics, throttling"),
    "AWS::ApiGateway::Resource": (len(PATH_SEGMENTS), "one per path segment of the contract (/items, /items/{id})"),
    "AWS::ApiGateway::Method": (len(OPERATIONS), "one per operation of the contract"),
    "AWS::Lambda::Permission": (len(OPERATIONS), "API Gateway may invoke the function, one per method ARN"),
    "AWS::ApiGateway::RequestValidator": (1, "validates request bodies against the models"),
    "AWS::ApiGateway::Model": (len(BODY_SCHEMAS), "one per request-body schema of the contract"),
    "AWS::ApiGateway::GatewayResponse": (3, "API Gateway's own 4xx/5xx, and its body-validation 400 with the detail"),
    "AWS::ApiGateway::Account": (1, "account-level CloudWatch role, needed for execution logs on a fresh account"),
    "AWS::CloudWatch::Alarm": (1, "the function's error-rate alarm"),
    "AWS::SNS::Topic": (1, "the alarm's action, for on-call tooling (and alarm_email) to subscribe to"),
    "AWS::SNS::TopicPolicy": (1, "the topic denies requests without TLS (enforce_ssl)"),
}


def _application_functions(synth) -> dict[str, dict]:
    """Every function that is not a custom-resource provider: each rule below holds for all of them."""
    functions = Template(synth.template_json).application_functions()
    assert functions
    return functions


def _items_function(synth) -> tuple[str, dict]:
    """The function that runs lambda/handler.py (its routes and environment are its own contract)."""
    [(logical_id, function)] = [
        (k, v) for k, v in _application_functions(synth).items() if v["Properties"]["Handler"] == ITEMS_HANDLER
    ]
    return logical_id, function


def _items_table(synth) -> str:
    """The table the items function's TABLE_NAME names."""
    _, function = _items_function(synth)
    return function["Properties"]["Environment"]["Variables"]["TABLE_NAME"]["Ref"]


def _every(synth, resource_type: str) -> dict[str, dict]:
    found = synth.resources_of_type(resource_type)
    assert found, f"no {resource_type} to check"
    return found


# 1. Artifacts bucket ------------------------------------------------------------------------------------------


def test_every_bucket_uses_sse_s3(synth):
    for logical_id, bucket in _every(synth, "AWS::S3::Bucket").items():
        assert bucket["Properties"]["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }, logical_id


def test_every_bucket_blocks_all_public_access(synth):
    for logical_id, bucket in _every(synth, "AWS::S3::Bucket").items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id


def test_every_bucket_denies_requests_without_tls(synth):
    policies = synth.resources_of_type("AWS::S3::BucketPolicy").values()
    for bucket_id in _every(synth, "AWS::S3::Bucket"):
        denies = [
            s
            for policy in policies
            if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies and denies[0]["Action"] == "s3:*" and denies[0]["Principal"] == {"AWS": "*"}, bucket_id


def test_every_bucket_enforces_object_ownership_and_versioning(synth):
    for logical_id, bucket in _every(synth, "AWS::S3::Bucket").items():
        assert bucket["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id


def test_every_bucket_expires_replaced_code_versions(synth):
    """A versioned bucket without a lifecycle rule keeps every overwritten version forever (Control Tower
    CT.S3.PR.3 and CT.S3.PR.6); current objects, which CloudFormation rolls back to, are never expired."""
    for bucket in _every(synth, "AWS::S3::Bucket").values():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert [rule["Status"] for rule in rules] == ["Enabled"]
        assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
        assert not {"ExpirationInDays", "ExpirationDate", "Transitions"} & rules[0].keys()


def test_every_bucket_sends_its_events_to_eventbridge_natively(synth):
    """Control Tower CT.S3.PR.4 requires event notifications; EventBridge delivery needs no target and no
    custom resource when set on the CloudFormation bucket itself (CDK's event_bridge_enabled adds a Lambda)."""
    for bucket in _every(synth, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["NotificationConfiguration"] == {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
    assert not synth.resources_of_type("Custom::S3BucketNotifications")


def test_every_bucket_is_destroyed_with_its_objects(synth):
    emptied = {
        custom["Properties"]["BucketName"]["Ref"]
        for custom in synth.resources_of_type("Custom::S3AutoDeleteObjects").values()
    }
    for bucket_id, bucket in _every(synth, "AWS::S3::Bucket").items():
        assert bucket["DeletionPolicy"] == "Delete" and bucket_id in emptied, bucket_id


def test_no_resource_has_a_hard_coded_physical_name(synth):
    names = ("BucketName", "TableName", "FunctionName", "RoleName", "RestApiName", "AlarmName", "TopicName")
    for logical_id, resource in synth.resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            continue
        for name in names:
            assert not isinstance(resource.get("Properties", {}).get(name), str), f"{logical_id}.{name} is fixed"


# 2. Lambda code from that bucket -------------------------------------------------------------------------------


def test_every_code_copy_goes_into_a_bucket_of_this_stack_unextracted(synth):
    buckets = set(_every(synth, "AWS::S3::Bucket"))
    for deployment in _every(synth, "Custom::CDKBucketDeployment").values():
        assert deployment["Properties"]["DestinationBucketName"]["Ref"] in buckets
        assert deployment["Properties"]["Extract"] is False


def test_every_function_code_points_at_a_deployed_object_and_waits_for_it(synth):
    """GetAtt on the deployment's outputs is the dependency: CloudFormation creates the function after it."""
    deployments = set(_every(synth, "Custom::CDKBucketDeployment"))
    for logical_id, function in _application_functions(synth).items():
        code = function["Properties"]["Code"]
        [deployment_id] = references(code["S3Bucket"]) & deployments
        assert code["S3Key"] == {
            "Fn::Join": [
                "",
                [CODE_KEY_PREFIX, {"Fn::Select": [0, {"Fn::GetAtt": [deployment_id, "SourceObjectKeys"]}]}],
            ]
        }, logical_id
        assert references(code["S3ObjectVersion"]) == {deployment_id}, logical_id


def test_code_object_key_changes_when_handler_code_changes(synth, tmp_path):
    keys = [
        key
        for d in _every(synth, "Custom::CDKBucketDeployment").values()
        for key in d["Properties"]["SourceObjectKeys"]
    ]
    assert FileSystem.fingerprint(str(LAMBDA_SOURCE), exclude=LAMBDA_PACKAGE_EXCLUDES) + ".zip" in keys
    changed = tmp_path / "lambda"
    shutil.copytree(LAMBDA_SOURCE, changed, ignore=shutil.ignore_patterns(*LAMBDA_PACKAGE_EXCLUDES))
    (changed / "handler.py").write_text((changed / "handler.py").read_text() + "\n# changed\n")
    assert FileSystem.fingerprint(str(changed), exclude=LAMBDA_PACKAGE_EXCLUDES) + ".zip" not in keys


# 3. DynamoDB table --------------------------------------------------------------------------------------------


def test_the_items_table_has_string_partition_key_id(synth):
    table = synth.resources[_items_table(synth)]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert {"AttributeName": "id", "AttributeType": "S"} in table["AttributeDefinitions"]


def test_every_table_bills_on_demand_and_has_point_in_time_recovery(synth):
    for logical_id, table in _every(synth, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_table_is_encrypted_with_dynamodbs_aws_managed_key(synth):
    """Control Tower CT.DYNAMODB.PR.2 requires SSE with a KMS key; the AWS managed aws/dynamodb key meets it
    with no key to create, and its key policy lets any principal allowed DynamoDB use it through DynamoDB."""
    for logical_id, table in _every(synth, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, logical_id


def test_every_table_is_destroyed_by_default(synth):
    for logical_id, table in _every(synth, "AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == "Delete" and table["Properties"]["DeletionProtectionEnabled"] is False


def test_retain_data_context_keeps_and_protects_every_table(synth_with):
    retained = synth_with(retain_data="true")
    for logical_id, table in _every(retained, "AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True


# 4. Lambda function -------------------------------------------------------------------------------------------


def test_every_function_runs_the_latest_python_on_arm64(synth):
    pythons = [name for name in dir(lambda_.Runtime) if re.fullmatch(r"PYTHON_3_\d+", name)]
    latest = max(pythons, key=lambda name: int(name.rsplit("_", 1)[1]))
    for logical_id, function in _application_functions(synth).items():
        assert function["Properties"]["Runtime"] == getattr(lambda_.Runtime, latest).name, logical_id
        assert function["Properties"]["Architectures"] == ["arm64"], logical_id


def test_every_function_has_explicit_memory_and_api_gateways_functions_a_timeout_under_its_own(synth):
    behind_api = {
        reference
        for permission in synth.resources_of_type("AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        for reference in references(permission["Properties"]["FunctionName"])
    }
    assert behind_api
    for logical_id, function in _application_functions(synth).items():
        assert function["Properties"]["MemorySize"] >= 128, logical_id
        if logical_id in behind_api:
            assert function["Properties"]["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS, logical_id


def test_every_function_has_active_tracing_and_json_logs_to_its_own_log_group(synth):
    groups = []
    for logical_id, function in _application_functions(synth).items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, logical_id
        logging_config = function["Properties"]["LoggingConfig"]
        assert logging_config["LogFormat"] == "JSON", logical_id
        group = synth.resources[logging_config["LogGroup"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup" and group["DeletionPolicy"] == "Delete", logical_id
        groups.append(logging_config["LogGroup"]["Ref"])
    assert len(groups) == len(set(groups)), "each function logs to a group of its own"


def test_every_function_environment_is_configuration_only(synth):
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY", re.I)
    for logical_id, function in _application_functions(synth).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not [name for name in variables if secret_like.search(name)], logical_id


def test_the_items_functions_environment_is_its_table_log_level_and_routes(synth):
    _, function = _items_function(synth)
    variables = function["Properties"]["Environment"]["Variables"]
    assert synth.resources[variables["TABLE_NAME"]["Ref"]]["Type"] == "AWS::DynamoDB::Table"
    assert set(variables) == {"TABLE_NAME", "LOG_LEVEL", "OPERATIONS"}


def test_the_functions_routes_are_the_documents_operations(synth, handler_module):
    _, function = _items_function(synth)
    routes = handler_module.parse_routes(function["Properties"]["Environment"]["Variables"]["OPERATIONS"])
    assert routes == contract.operation_ids()


def test_no_function_has_reserved_concurrency(synth):
    for logical_id, function in _application_functions(synth).items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], logical_id


# 5. IAM role --------------------------------------------------------------------------------------------------


def _function_roles(synth):
    """Each application function's role: (function id, role id, role)."""
    for function_id, function in _application_functions(synth).items():
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        yield function_id, role_id, synth.resources[role_id]


def _role_statements(synth, role_id: str, role: dict) -> list[dict]:
    """The role's inline statements and those of the policies attached to it."""
    documents = Template(synth.template_json).role_documents(role_id)
    return [s for properties in documents for s in policy_statements({"Properties": properties})]


def test_every_function_role_writes_only_its_own_log_group_and_cannot_create_groups(synth):
    for function_id, role_id, role in _function_roles(synth):
        own_group = synth.resources[function_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for statement in _role_statements(synth, role_id, role):
            actions = [a for a in statement_actions(statement) if a.startswith("logs:")]
            if actions:
                assert sorted(actions) == ["logs:CreateLogStream", "logs:PutLogEvents"], function_id
                assert statement["Resource"] == {"Fn::GetAtt": [own_group, "Arn"]}, function_id


def test_every_function_role_leaves_only_unscopable_actions_unscoped(synth):
    for function_id, role_id, role in _function_roles(synth):
        for statement in _role_statements(synth, role_id, role):
            if "*" in as_list(statement["Resource"]):
                assert set(statement_actions(statement)) <= UNSCOPABLE_ACTIONS, function_id


def test_every_function_role_has_no_managed_policies(synth):
    for function_id, _, role in _function_roles(synth):
        assert "ManagedPolicyArns" not in role["Properties"], function_id


def test_every_function_role_is_assumable_by_lambda_only(synth):
    for function_id, _, role in _function_roles(synth):
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}, function_id


# 6. API Gateway -----------------------------------------------------------------------------------------------


def _routes(synth) -> set[tuple[str, str]]:
    return set(_methods_by_route(synth))


def _methods_by_route(synth) -> dict[tuple[str, str], dict]:
    """Each AWS::ApiGateway::Method's properties, by its (resource path, HTTP method)."""
    template = Template(synth.template_json)
    return {route: template.properties(logical_id) for route, logical_id in template.methods().items()}


def test_api_serves_exactly_the_contracts_operations(synth):
    assert _routes(synth) == OPERATIONS


def test_every_method_is_a_lambda_proxy_to_a_function_of_this_stack(synth):
    functions = set(_application_functions(synth))
    for method in _every(synth, "AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert references(integration["Uri"]) & functions
        assert "RequestTemplates" not in integration and "IntegrationResponses" not in integration


def test_every_method_requires_iam_authorization_by_default(synth):
    methods = synth.resources_of_type("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"AWS_IAM"}


def test_api_auth_none_context_opens_the_methods(synth_with):
    opened = synth_with(api_auth="none")
    methods = opened.resources_of_type("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"NONE"}


def test_methods_with_bodies_are_validated_against_json_models(synth):
    methods = _methods_by_route(synth)
    with_bodies = {operation for operation in OPERATIONS if contract.request_body_schema_name(*operation)}
    assert with_bodies
    for operation in with_bodies:
        props = methods[operation]
        validator = synth.resources[props["RequestValidatorId"]["Ref"]]
        assert validator["Properties"]["ValidateRequestBody"] is True
        model = synth.resources[props["RequestModels"]["application/json"]["Ref"]]
        assert model["Properties"]["Schema"]["type"] == "object"


def test_every_stage_traces_logs_and_throttles_without_data_tracing(synth):
    log_groups = set(synth.resources_of_type("AWS::Logs::LogGroup"))
    for stage in _every(synth, "AWS::ApiGateway::Stage").values():
        props = stage["Properties"]
        assert props["StageName"] == contract.stage()
        assert props["TracingEnabled"] is True
        assert references(props["AccessLogSetting"]["DestinationArn"]) & log_groups
        assert '"requestId":"$context.requestId"' in props["AccessLogSetting"]["Format"]
        [settings] = [s for s in props["MethodSettings"] if s["HttpMethod"] == "*" and s["ResourcePath"] == "/*"]
        assert settings["LoggingLevel"] in ("ERROR", "INFO")
        assert settings["DataTraceEnabled"] is False
        assert settings["MetricsEnabled"] is True
        assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0


def test_every_invoke_permission_is_scoped_to_an_api_of_this_stack(synth):
    functions = set(_application_functions(synth))
    apis = set(_every(synth, "AWS::ApiGateway::RestApi"))
    for permission in _every(synth, "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert references(props["FunctionName"]) & functions
        assert references(props["SourceArn"]) & apis


# 7. Fresh-account deploy and clean teardown of API logs ---------------------------------------------------------


def _the_account_setting(synth) -> tuple[str, dict]:
    """The stack's one AWS::ApiGateway::Account. One is the rule: the setting is per account and region, so two
    would overwrite each other's CloudWatch role on every deploy."""
    return synth.only("AWS::ApiGateway::Account")


def test_api_gateway_account_uses_a_cloudwatch_role_from_this_stack(synth):
    account_id, account = _the_account_setting(synth)
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = synth.resources[role_id]
    assert role["Type"] == "AWS::IAM::Role" and role.get("DeletionPolicy", "Delete") == "Delete"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    for stage in _every(synth, "AWS::ApiGateway::Stage").values():
        assert account_id in stage["DependsOn"]


API_GATEWAY_PUSH_TO_CLOUDWATCH_ACTIONS = sorted(
    [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
    ]
)
ACCOUNT_LOG_GROUPS = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"],
    ]
}


def test_api_gateway_cloudwatch_role_has_the_managed_policys_actions_on_the_accounts_log_groups(synth):
    """AWS docs (API Gateway: "Permissions for CloudWatch logging"), rain#163, coverage-roadmap#2312: the
    account setting is validated against AmazonAPIGatewayPushToCloudWatchLogs' seven actions, and it serves
    every REST API in the account and region, so it cannot be scoped to this API's groups."""
    _, account = _the_account_setting(synth)
    role = synth.resources[account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert "ManagedPolicyArns" not in role["Properties"]
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement_actions(statement)) == API_GATEWAY_PUSH_TO_CLOUDWATCH_ACTIONS
    assert statement["Resource"] == ACCOUNT_LOG_GROUPS


def test_api_gateway_account_is_set_after_every_rest_api_exists(synth):
    """rain#163: without it, a race between the Account, the role and the API can fail the first deploy."""
    graph = Template(synth.template_json)
    account_id, _ = _the_account_setting(synth)
    for api_id in _every(synth, "AWS::ApiGateway::RestApi"):
        assert graph.depends_on(account_id, api_id)


def test_every_code_copy_is_created_after_and_deleted_before_its_buckets_auto_delete(synth):
    """aws-blocks PR #437: a rollback that deletes the copy's bucket before auto-delete exists fails."""
    graph = Template(synth.template_json)
    auto_deletes = {
        custom["Properties"]["BucketName"]["Ref"]: custom_id
        for custom_id, custom in synth.resources_of_type("Custom::S3AutoDeleteObjects").items()
    }
    for deployment_id, deployment in _every(synth, "Custom::CDKBucketDeployment").items():
        bucket_id = deployment["Properties"]["DestinationBucketName"]["Ref"]
        assert graph.depends_on(deployment_id, auto_deletes[bucket_id])


def test_custom_resource_handler_roles_cannot_recreate_their_log_groups(synth):
    """aws-cdk#31487, #32689: a handler that runs during delete recreates its deleted group, kept forever."""
    handler_roles = {
        synth.resources[custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]["Properties"]["Role"]["Fn::GetAtt"][0]
        for kind in ("Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects")
        for custom in synth.resources_of_type(kind).values()
    }
    assert handler_roles
    for role_id in handler_roles:
        documents = [p["PolicyDocument"] for p in synth.resources[role_id]["Properties"].get("Policies", [])] + [
            p["Properties"]["PolicyDocument"]
            for p in synth.resources_of_type("AWS::IAM::Policy").values()
            if {"Ref": role_id} in p["Properties"]["Roles"]
        ]
        denies = [
            {k: s[k] for k in ("Action", "Resource")}
            for d in documents
            for s in d["Statement"]
            if s["Effect"] == "Deny"
        ]
        assert denies == [{"Action": "logs:CreateLogGroup", "Resource": "*"}], role_id


def test_every_api_stages_execution_log_group_is_owned_by_the_stack(synth):
    for stage in _every(synth, "AWS::ApiGateway::Stage").values():
        api_id = stage["Properties"]["RestApiId"]["Ref"]
        name = {
            "Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{stage['Properties']['StageName']}"]]
        }
        [(group_id, group)] = [
            (k, v)
            for k, v in synth.resources_of_type("AWS::Logs::LogGroup").items()
            if v["Properties"].get("LogGroupName") == name
        ]
        assert group["DeletionPolicy"] == "Delete"
        assert group_id in stage["DependsOn"]


@pytest.mark.parametrize("days", LOG_RETENTION_DAYS)
def test_every_log_group_keeps_the_configured_retention_and_is_destroyed(synth, synth_with, days):
    synthesis = synth if days == ServiceConfig().log_retention_days else synth_with(log_retention_days=str(days))
    for logical_id, group in _every(synthesis, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == days, logical_id
        assert group["DeletionPolicy"] == "Delete", logical_id


def test_every_function_logs_to_a_log_group_of_this_stack(synth):
    """Otherwise Lambda creates the group at run time, without retention, and destroy leaves it behind."""
    for logical_id, function in synth.resources_of_type("AWS::Lambda::Function").items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        assert synth.resources.get(group, {}).get("Type") == "AWS::Logs::LogGroup", logical_id


# 8. Error-rate alarm ------------------------------------------------------------------------------------------


def _error_rate_alarm_of(synth, function_id: str) -> tuple[str, dict]:
    """The alarm whose Errors and Invocations metrics are the function's."""
    [(alarm_id, alarm)] = [
        (k, v)
        for k, v in synth.resources_of_type("AWS::CloudWatch::Alarm").items()
        if {"Name": "FunctionName", "Value": {"Ref": function_id}}
        in [
            d
            for m in v["Properties"].get("Metrics", [])
            for d in m.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
        ]
    ]
    return alarm_id, alarm


def test_every_function_has_an_alarm_on_its_error_rate(synth):
    for function_id in _application_functions(synth):
        _, alarm = _error_rate_alarm_of(synth, function_id)
        metrics = {m["Id"]: m for m in alarm["Properties"]["Metrics"]}
        [expression] = [m for m in metrics.values() if "Expression" in m]
        assert expression["ReturnData"] is True
        assert re.search(r"IF\(\s*invocations\s*>\s*0", expression["Expression"]), "rate must be safe at zero"
        assert "errors / invocations" in expression["Expression"]
        for metric_id, name in (("errors", "Errors"), ("invocations", "Invocations")):
            stat = metrics[metric_id]["MetricStat"]
            assert stat["Metric"]["MetricName"] == name and stat["Stat"] == "Sum"
            assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]


def test_every_alarms_topic_lets_cloudwatch_publish_that_alarm_and_only_over_tls(synth):
    """A topic policy replaces SNS's default one, which is what lets CloudWatch publish: with only the TLS Deny
    (enforce_ssl) the alarm's notifications are refused (aws-solutions/automated-security-response-on-aws#43;
    SNS developer guide, "Amazon SNS access control case examples")."""
    for alarm_id, alarm in _every(synth, "AWS::CloudWatch::Alarm").items():
        for action in alarm["Properties"]["AlarmActions"]:
            topic_id = action["Ref"]
            [policy] = [
                p
                for p in synth.resources_of_type("AWS::SNS::TopicPolicy").values()
                if {"Ref": topic_id} in p["Properties"]["Topics"]
            ]
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            [allow] = [
                s
                for s in statements
                if s["Effect"] == "Allow"
                and s["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [alarm_id, "Arn"]}}}
            ]
            assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            assert allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": topic_id}
            [deny] = [s for s in statements if s["Effect"] == "Deny"]
            assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_alarms_threshold_period_and_missing_data(synth):
    for alarm in _every(synth, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        assert 0 < props["Threshold"] <= 10
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert {m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m} == {300}
        assert props["TreatMissingData"] == "notBreaching"


def test_every_alarm_notifies_a_topic_which_mails_only_a_given_address(synth, synth_with):
    """An alarm without an action notifies nobody (AWS Control Tower CT.CLOUDWATCH.PR.1, NIST's
    CloudWatchAlarmAction): the topic is always there for on-call tooling to subscribe to."""
    topics = set(_every(synth, "AWS::SNS::Topic"))
    for alarm in _every(synth, "AWS::CloudWatch::Alarm").values():
        assert {action["Ref"] for action in alarm["Properties"]["AlarmActions"]} <= topics
    assert not synth.resources_of_type("AWS::SNS::Subscription")
    with_email = synth_with(alarm_email="oncall@example.com")
    mailed = {
        subscription["Properties"]["TopicArn"]["Ref"]
        for subscription in with_email.resources_of_type("AWS::SNS::Subscription").values()
        if subscription["Properties"]["Protocol"] == "email"
        and subscription["Properties"]["Endpoint"] == "oncall@example.com"
    }
    for alarm in _every(with_email, "AWS::CloudWatch::Alarm").values():
        assert {action["Ref"] for action in alarm["Properties"]["AlarmActions"]} <= mailed


# 9. Tags ------------------------------------------------------------------------------------------------------


def _tags_of(resource: dict) -> dict:
    target = tag_property(resource["Type"])
    tags = resource.get("Properties", {}).get(target[0], [])
    return tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}


@pytest.mark.parametrize("variant", [{}, {"alarm_email": "oncall@example.com"}], ids=["default", "alarm_email"])
def test_every_taggable_resource_carries_both_tags(synth, synth_with, variant):
    synthesis = synth_with(**variant) if variant else synth
    taggable = {k: v for k, v in synthesis.resources.items() if tag_property(v["Type"])}
    assert len(taggable) > 10
    untagged = {k for k, v in taggable.items() if not REQUIRED_TAGS.items() <= _tags_of(v).items()}
    assert not untagged


def test_cdk_raw_provider_role_is_tagged_too(synth):
    """The S3 auto-delete provider is a raw CfnResource that Tags.of() does not reach."""
    provider_roles = {
        k: v for k, v in synth.resources_of_type("AWS::IAM::Role").items() if k.startswith("CustomS3AutoDelete")
    }
    assert provider_roles
    for role in provider_roles.values():
        assert REQUIRED_TAGS.items() <= _tags_of(role).items()


# 10. Outputs --------------------------------------------------------------------------------------------------


def test_outputs_name_the_api_url_the_items_table_and_the_code_bucket(synth):
    """Which outputs there are is the README's (tests/test_readme.py); what each one names is stated here."""
    outputs = synth.template_json["Outputs"]
    assert references(outputs["ApiUrl"]["Value"]) & set(_every(synth, "AWS::ApiGateway::RestApi"))
    assert outputs["TableName"]["Value"] == {"Ref": _items_table(synth)}
    assert outputs["ArtifactsBucketName"]["Value"]["Ref"] in _every(synth, "AWS::S3::Bucket")


# 11. Minimal --------------------------------------------------------------------------------------------------


def test_inventory_is_exactly_planned(synth):
    """Here the count is the rule (the stack is minimal): every resource is planned, with its reason. A team
    that adds a resource adds its line to PLANNED_INVENTORY, which reviewers read in the diff."""
    actual = Counter(resource["Type"] for resource in synth.resources.values())
    assert dict(actual) == {kind: count for kind, (count, _) in PLANNED_INVENTORY.items()}


def test_template_hard_codes_no_account_id(synth):
    assert not re.search(r"(?<![0-9a-f])\d{12}(?![0-9a-f])", synth.template_path.read_text())


def test_every_gateway_response_is_the_error_shape_and_a_refused_body_carries_the_validators_detail(synth):
    """Each template with API Gateway's variables substituted (messageString comes quoted; validationErrorString is
    substituted into the template's quotes, escaped) is {"error": {"code", "message"}}; BAD_REQUEST_BODY's message
    is the validator's detail, so a deployed client learns which rule or field failed."""
    detail = '[object has missing required properties (["version"])]'
    values = {
        "$context.error.responseType": "BAD_REQUEST_BODY",
        "$context.error.messageString": json.dumps("Invalid request body"),
        "$context.error.validationErrorString": json.dumps(detail)[1:-1],
    }
    by_type = {}
    for response in synth.resources_of_type("AWS::ApiGateway::GatewayResponse").values():
        text = response["Properties"]["ResponseTemplates"]["application/json"]
        for variable, value in values.items():
            text = text.replace(variable, value)
        body = json.loads(text)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        by_type[response["Properties"]["ResponseType"]] = body["error"]
    assert by_type["BAD_REQUEST_BODY"] == {"code": "BAD_REQUEST_BODY", "message": detail}
