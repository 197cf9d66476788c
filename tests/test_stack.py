"""Each requirement of the stack, asserted on the synthesized template (one behaviour per test)."""

import json
import re
import shutil
from collections import Counter

import pytest
from aws_cdk import FileSystem
from aws_cdk import aws_lambda as lambda_

from api import contract
from main import CODE_KEY_PREFIX, LAMBDA_PACKAGE_EXCLUDES, LAMBDA_SOURCE, TABLE_ACTIONS
from cfn.taggability import tag_property
from cfn.template import Template, references, statement_actions
from conventions import REQUIRED_TAGS

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


def _items_function(synth):
    functions = {
        k: v for k, v in synth.resources_of_type("AWS::Lambda::Function").items() if k.startswith("ItemsFunction")
    }
    assert len(functions) == 1
    return next(iter(functions.items()))


# 1. Artifacts bucket ------------------------------------------------------------------------------------------


def test_artifacts_bucket_uses_sse_s3(synth):
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
    )


def test_artifacts_bucket_blocks_all_public_access(synth):
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        },
    )


def test_artifacts_bucket_denies_requests_without_tls(synth):
    bucket_id, _ = synth.only("AWS::S3::Bucket")
    _, policy = synth.only("AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    denies = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies and denies[0]["Action"] == "s3:*" and denies[0]["Principal"] == {"AWS": "*"}


def test_artifacts_bucket_enforces_object_ownership_and_versioning(synth):
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )


def test_artifacts_bucket_expires_replaced_code_versions(synth):
    """A versioned bucket without a lifecycle rule keeps every overwritten version forever (Control Tower
    CT.S3.PR.3 and CT.S3.PR.6); current objects, which CloudFormation rolls back to, are never expired."""
    _, bucket = synth.only("AWS::S3::Bucket")
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule["Status"] for rule in rules] == ["Enabled"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1
    assert not {"ExpirationInDays", "ExpirationDate", "Transitions"} & rules[0].keys()


def test_artifacts_bucket_sends_its_events_to_eventbridge_natively(synth):
    """Control Tower CT.S3.PR.4 requires event notifications; EventBridge delivery needs no target and no
    custom resource when set on the CloudFormation bucket itself (CDK's event_bridge_enabled adds a Lambda)."""
    _, bucket = synth.only("AWS::S3::Bucket")
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not synth.resources_of_type("Custom::S3BucketNotifications")


def test_artifacts_bucket_is_destroyed_with_its_objects(synth):
    bucket_id, bucket = synth.only("AWS::S3::Bucket")
    assert bucket["DeletionPolicy"] == "Delete"
    _, auto_delete = synth.only("Custom::S3AutoDeleteObjects")
    assert auto_delete["Properties"]["BucketName"] == {"Ref": bucket_id}


def test_no_resource_has_a_hard_coded_physical_name(synth):
    names = ("BucketName", "TableName", "FunctionName", "RoleName", "RestApiName", "AlarmName", "TopicName")
    for logical_id, resource in synth.resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            continue
        for name in names:
            assert not isinstance(resource.get("Properties", {}).get(name), str), f"{logical_id}.{name} is fixed"


# 2. Lambda code from that bucket -------------------------------------------------------------------------------


def test_code_zip_is_copied_into_the_artifacts_bucket_unextracted(synth):
    bucket_id, _ = synth.only("AWS::S3::Bucket")
    _, deployment = synth.only("Custom::CDKBucketDeployment")
    assert deployment["Properties"]["DestinationBucketName"] == {"Ref": bucket_id}
    assert deployment["Properties"]["Extract"] is False


def test_function_code_points_at_the_deployed_object_and_waits_for_it(synth):
    """GetAtt on the deployment's outputs is the dependency: CloudFormation creates the function after it."""
    deployment_id, _ = synth.only("Custom::CDKBucketDeployment")
    _, function = _items_function(synth)
    code = function["Properties"]["Code"]
    assert references(code["S3Bucket"]) == {deployment_id}, "bucket must come from the deployment's output"
    assert code["S3Key"] == {
        "Fn::Join": ["", [CODE_KEY_PREFIX, {"Fn::Select": [0, {"Fn::GetAtt": [deployment_id, "SourceObjectKeys"]}]}]]
    }
    assert references(code["S3ObjectVersion"]) == {deployment_id}


def test_code_object_key_changes_when_handler_code_changes(synth, tmp_path):
    _, deployment = synth.only("Custom::CDKBucketDeployment")
    [key] = deployment["Properties"]["SourceObjectKeys"]
    assert key == FileSystem.fingerprint(str(LAMBDA_SOURCE), exclude=LAMBDA_PACKAGE_EXCLUDES) + ".zip"
    changed = tmp_path / "lambda"
    shutil.copytree(LAMBDA_SOURCE, changed, ignore=shutil.ignore_patterns(*LAMBDA_PACKAGE_EXCLUDES))
    (changed / "handler.py").write_text((changed / "handler.py").read_text() + "\n# changed\n")
    assert FileSystem.fingerprint(str(changed), exclude=LAMBDA_PACKAGE_EXCLUDES) + ".zip" != key


# 3. DynamoDB table --------------------------------------------------------------------------------------------


def test_table_has_string_partition_key_id_and_on_demand_billing(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_table_has_point_in_time_recovery(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
    )


def test_table_is_encrypted_with_dynamodbs_aws_managed_key(synth):
    """Control Tower CT.DYNAMODB.PR.2 requires SSE with a KMS key; the AWS managed aws/dynamodb key meets it
    with no key to create, and its key policy lets any principal allowed DynamoDB use it through DynamoDB."""
    _, table = synth.only("AWS::DynamoDB::Table")
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}


def test_table_is_destroyed_by_default(synth):
    synth.template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    synth.template.has_resource_properties("AWS::DynamoDB::Table", {"DeletionProtectionEnabled": False})


def test_retain_data_context_keeps_and_protects_the_table(synth_with):
    retained = synth_with(retain_data="true")
    retained.template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain"})
    retained.template.has_resource_properties("AWS::DynamoDB::Table", {"DeletionProtectionEnabled": True})


# 4. Lambda function -------------------------------------------------------------------------------------------


def test_function_runs_the_latest_python_on_arm64(synth):
    pythons = [name for name in dir(lambda_.Runtime) if re.fullmatch(r"PYTHON_3_\d+", name)]
    latest = max(pythons, key=lambda name: int(name.rsplit("_", 1)[1]))
    _, function = _items_function(synth)
    assert function["Properties"]["Runtime"] == getattr(lambda_.Runtime, latest).name
    assert function["Properties"]["Architectures"] == ["arm64"]


def test_function_has_explicit_memory_and_a_timeout_under_api_gateways(synth):
    _, function = _items_function(synth)
    assert function["Properties"]["MemorySize"] >= 128
    assert function["Properties"]["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS


def test_function_has_active_tracing_and_json_logs_to_its_own_log_group(synth):
    _, function = _items_function(synth)
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
    logging_config = function["Properties"]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    log_group = synth.resources[logging_config["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] > 0
    assert log_group["DeletionPolicy"] == "Delete"


def test_function_environment_is_configuration_only(synth):
    table_id, _ = synth.only("AWS::DynamoDB::Table")
    _, function = _items_function(synth)
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": table_id}
    secret_like = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY", re.I)
    assert not [name for name in variables if secret_like.search(name)]
    assert set(variables) == {"TABLE_NAME", "LOG_LEVEL", "OPERATIONS"}


def test_the_functions_routes_are_the_documents_operations(synth, handler_module):
    _, function = _items_function(synth)
    routes = handler_module.parse_routes(function["Properties"]["Environment"]["Variables"]["OPERATIONS"])
    assert routes == contract.operation_ids()


def test_function_has_no_reserved_concurrency(synth):
    _, function = _items_function(synth)
    assert "ReservedConcurrentExecutions" not in function["Properties"]


# 5. IAM role --------------------------------------------------------------------------------------------------


def _function_role(synth):
    _, function = _items_function(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id, synth.resources[role_id]


def test_function_role_grants_exactly_the_handlers_table_actions_on_the_table(synth):
    table_id, _ = synth.only("AWS::DynamoDB::Table")
    _, role = _function_role(synth)
    [policy] = role["Properties"]["Policies"]
    table_statements = [
        s for s in policy["PolicyDocument"]["Statement"] if any(a.startswith("dynamodb:") for a in statement_actions(s))
    ]
    assert len(table_statements) == 1
    assert sorted(statement_actions(table_statements[0])) == sorted(TABLE_ACTIONS)
    assert table_statements[0]["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}


def test_function_role_writes_only_its_own_log_group_and_cannot_create_groups(synth):
    _, function = _items_function(synth)
    own_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    _, role = _function_role(synth)
    [policy] = role["Properties"]["Policies"]
    logs_statements = [
        s for s in policy["PolicyDocument"]["Statement"] if any(a.startswith("logs:") for a in statement_actions(s))
    ]
    assert len(logs_statements) == 1
    assert sorted(statement_actions(logs_statements[0])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs_statements[0]["Resource"] == {"Fn::GetAtt": [own_group, "Arn"]}


def test_function_role_has_only_xray_unscoped(synth):
    _, role = _function_role(synth)
    [policy] = role["Properties"]["Policies"]
    unscoped = [s for s in policy["PolicyDocument"]["Statement"] if s["Resource"] == "*"]
    assert len(unscoped) == 1
    assert sorted(statement_actions(unscoped[0])) == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]


def test_function_role_has_no_managed_or_attached_policies(synth):
    role_id, role = _function_role(synth)
    assert "ManagedPolicyArns" not in role["Properties"]
    role_ref = {"Ref": role_id}
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, policy in synth.resources_of_type(kind).items():
            assert role_ref not in policy["Properties"].get("Roles", []), f"{logical_id} attaches to the role"


def test_function_role_is_assumable_by_lambda_only(synth):
    _, role = _function_role(synth)
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


# 6. API Gateway -----------------------------------------------------------------------------------------------


def _routes(synth) -> set[tuple[str, str]]:
    return set(_methods_by_route(synth))


def _methods_by_route(synth) -> dict[tuple[str, str], dict]:
    """Each AWS::ApiGateway::Method's properties, by its (resource path, HTTP method)."""
    template = Template(synth.template_json)
    return {route: template.properties(logical_id) for route, logical_id in template.methods().items()}


def test_api_serves_exactly_the_contracts_operations(synth):
    assert _routes(synth) == OPERATIONS


def test_every_method_is_a_lambda_proxy_to_the_items_function(synth):
    function_id, _ = _items_function(synth)
    for method in synth.resources_of_type("AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert {"Fn::GetAtt": [function_id, "Arn"]} in integration["Uri"]["Fn::Join"][1]
        assert "RequestTemplates" not in integration and "IntegrationResponses" not in integration


def test_every_method_requires_iam_authorization_by_default(synth):
    methods = synth.resources_of_type("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"AWS_IAM"}


def test_api_auth_none_context_opens_the_methods(synth_with):
    opened = synth_with(api_auth="none")
    methods = opened.resources_of_type("AWS::ApiGateway::Method").values()
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"NONE"}


def test_methods_with_bodies_are_validated_against_json_models(synth):
    validator_id, validator = synth.only("AWS::ApiGateway::RequestValidator")
    assert validator["Properties"]["ValidateRequestBody"] is True
    methods = _methods_by_route(synth)
    with_bodies = {operation for operation in OPERATIONS if contract.request_body_schema_name(*operation)}
    assert with_bodies
    for operation in with_bodies:
        props = methods[operation]
        assert props["RequestValidatorId"] == {"Ref": validator_id}
        model = synth.resources[props["RequestModels"]["application/json"]["Ref"]]
        assert model["Properties"]["Schema"]["type"] == "object"


def test_prod_stage_traces_logs_and_throttles_without_data_tracing(synth):
    access_log_group = next(
        k for k, v in synth.resources_of_type("AWS::Logs::LogGroup").items() if k.startswith("ApiAccessLogGroup")
    )
    _, stage = synth.only("AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert props["StageName"] == contract.stage()
    assert props["TracingEnabled"] is True
    assert {"Ref": access_log_group} in props["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1]
    assert '"requestId":"$context.requestId"' in props["AccessLogSetting"]["Format"]
    [settings] = props["MethodSettings"]
    assert settings["LoggingLevel"] in ("ERROR", "INFO")
    assert settings["DataTraceEnabled"] is False
    assert settings["MetricsEnabled"] is True
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0


def test_invoke_permissions_are_scoped_to_this_api(synth):
    function_id, _ = _items_function(synth)
    api_id, _ = synth.only("AWS::ApiGateway::RestApi")
    permissions = synth.resources_of_type("AWS::Lambda::Permission").values()
    assert permissions
    for permission in permissions:
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert props["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
        assert {"Ref": api_id} in props["SourceArn"]["Fn::Join"][1]


# 7. Fresh-account deploy and clean teardown of API logs ---------------------------------------------------------


def test_api_gateway_account_uses_a_cloudwatch_role_from_this_stack(synth):
    account_id, account = synth.only("AWS::ApiGateway::Account")
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = synth.resources[role_id]
    assert role["Type"] == "AWS::IAM::Role" and role.get("DeletionPolicy", "Delete") == "Delete"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    _, stage = synth.only("AWS::ApiGateway::Stage")
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
    _, account = synth.only("AWS::ApiGateway::Account")
    role = synth.resources[account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert "ManagedPolicyArns" not in role["Properties"]
    [policy] = role["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement_actions(statement)) == API_GATEWAY_PUSH_TO_CLOUDWATCH_ACTIONS
    assert statement["Resource"] == ACCOUNT_LOG_GROUPS


def test_api_gateway_account_is_set_after_the_rest_api_exists(synth):
    """rain#163: without it, a race between the Account, the role and the API can fail the first deploy."""
    graph = Template(synth.template_json)
    account_id, _ = synth.only("AWS::ApiGateway::Account")
    api_id, _ = synth.only("AWS::ApiGateway::RestApi")
    assert graph.depends_on(account_id, api_id)


def test_code_copy_is_created_after_and_deleted_before_the_buckets_auto_delete(synth):
    """aws-blocks PR #437: a rollback that deletes the copy's bucket before auto-delete exists fails."""
    graph = Template(synth.template_json)
    deployment_id, _ = synth.only("Custom::CDKBucketDeployment")
    auto_delete_id, _ = synth.only("Custom::S3AutoDeleteObjects")
    assert graph.depends_on(deployment_id, auto_delete_id)


def test_custom_resource_handler_roles_cannot_recreate_their_log_groups(synth):
    """aws-cdk#31487, #32689: a handler that runs during delete recreates its deleted group, kept forever."""
    handler_roles = {
        synth.resources[custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]["Properties"]["Role"]["Fn::GetAtt"][0]
        for kind in ("Custom::CDKBucketDeployment", "Custom::S3AutoDeleteObjects")
        for custom in synth.resources_of_type(kind).values()
    }
    assert len(handler_roles) == 2
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


def test_api_execution_log_group_is_owned_by_the_stack(synth):
    api_id, _ = synth.only("AWS::ApiGateway::RestApi")
    groups = {
        k: v
        for k, v in synth.resources_of_type("AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName")
        == {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": api_id}, f"/{contract.stage()}"]]}
    }
    assert len(groups) == 1
    [(group_id, group)] = groups.items()
    assert group["Properties"]["RetentionInDays"] > 0 and group["DeletionPolicy"] == "Delete"
    _, stage = synth.only("AWS::ApiGateway::Stage")
    assert group_id in stage["DependsOn"]


def test_every_log_group_has_retention_and_is_destroyed(synth):
    for logical_id, group in synth.resources_of_type("AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays", 0) > 0, logical_id
        assert group["DeletionPolicy"] == "Delete", logical_id


def test_every_function_logs_to_a_log_group_of_this_stack(synth):
    """Otherwise Lambda creates the group at run time, without retention, and destroy leaves it behind."""
    for logical_id, function in synth.resources_of_type("AWS::Lambda::Function").items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        assert synth.resources.get(group, {}).get("Type") == "AWS::Logs::LogGroup", logical_id


# 8. Error-rate alarm ------------------------------------------------------------------------------------------


def test_alarm_watches_the_error_rate_of_the_items_function(synth):
    function_id, _ = _items_function(synth)
    _, alarm = synth.only("AWS::CloudWatch::Alarm")
    metrics = {m["Id"]: m for m in alarm["Properties"]["Metrics"]}
    [expression] = [m for m in metrics.values() if "Expression" in m]
    assert expression["ReturnData"] is True
    assert re.search(r"IF\(\s*invocations\s*>\s*0", expression["Expression"]), "rate must be safe at zero"
    assert "errors / invocations" in expression["Expression"]
    for metric_id, name in (("errors", "Errors"), ("invocations", "Invocations")):
        stat = metrics[metric_id]["MetricStat"]
        assert stat["Metric"]["MetricName"] == name and stat["Stat"] == "Sum"
        assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]


def test_the_topic_lets_cloudwatch_publish_this_alarm_and_only_over_tls(synth):
    """A topic policy replaces SNS's default one, which is what lets CloudWatch publish: with only the TLS Deny
    (enforce_ssl) the alarm's notifications are refused (aws-solutions/automated-security-response-on-aws#43;
    SNS developer guide, "Amazon SNS access control case examples")."""
    topic_id, _ = synth.only("AWS::SNS::Topic")
    alarm_id, _ = synth.only("AWS::CloudWatch::Alarm")
    _, policy = synth.only("AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": topic_id}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [alarm_id, "Arn"]}}}
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarm_threshold_period_and_missing_data(synth):
    _, alarm = synth.only("AWS::CloudWatch::Alarm")
    props = alarm["Properties"]
    assert 0 < props["Threshold"] <= 10
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert {m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m} == {300}
    assert props["TreatMissingData"] == "notBreaching"


def test_the_alarm_always_notifies_a_topic_which_mails_only_a_given_address(synth, synth_with):
    """An alarm without an action notifies nobody (AWS Control Tower CT.CLOUDWATCH.PR.1, NIST's
    CloudWatchAlarmAction): the topic is always there for on-call tooling to subscribe to."""
    topic_id, _ = synth.only("AWS::SNS::Topic")
    synth.template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmActions": [{"Ref": topic_id}]})
    assert not synth.resources_of_type("AWS::SNS::Subscription")
    with_email = synth_with(alarm_email="oncall@example.com")
    topic_id, _ = with_email.only("AWS::SNS::Topic")
    with_email.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": {"Ref": topic_id}}
    )
    with_email.template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmActions": [{"Ref": topic_id}]})


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


def test_outputs_name_the_api_url_table_and_bucket(synth):
    api_id, _ = synth.only("AWS::ApiGateway::RestApi")
    table_id, _ = synth.only("AWS::DynamoDB::Table")
    bucket_id, _ = synth.only("AWS::S3::Bucket")
    outputs = synth.template_json["Outputs"]
    assert {"Ref": api_id} in outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert outputs["TableName"]["Value"] == {"Ref": table_id}
    assert outputs["ArtifactsBucketName"]["Value"] == {"Ref": bucket_id}


def test_the_outputs_are_exactly_the_three_the_readme_names(synth):
    """RestApi adds an Endpoint output of its own (ItemsApiEndpoint<hash>); ApiUrl already says it."""
    assert set(synth.template_json["Outputs"]) == {"ApiUrl", "TableName", "ArtifactsBucketName"}


# 11. Minimal --------------------------------------------------------------------------------------------------


def test_inventory_is_exactly_planned(synth):
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
