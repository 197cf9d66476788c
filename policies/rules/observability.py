"""Observability: logs, traces and their limits, on every resource that serves a request."""

from cfn.template import as_list, reference
from policies.engine import PolicyRule, register

FAMILY = "OBS"


@register
class NoApiDataTracing(PolicyRule):
    """No API stage logs full requests and responses: data tracing would write request bodies to logs."""

    rule_id = "SA-OBS1"
    resource_types = frozenset({"AWS::ApiGateway::Stage"})
    fix = "Set data_trace_enabled=False in the stage's deploy options."

    def check(self, properties, logical_id, template):
        traced = [s.get("HttpMethod", "*") for s in properties.get("MethodSettings", []) if s.get("DataTraceEnabled")]
        return [f"stage has data tracing on for {', '.join(traced)}"] if traced else []


@register
class LogGroupRetention(PolicyRule):
    """Every log group keeps its logs exactly the configured log_retention_days, CDK's own log groups and its
    LogRetention custom resources included.

    Why: logs kept forever cost money and outlive their use, and a group left at CDK's default (731 days)
    breaks the retention the deployer chose; checking for presence only lets both through.
    """

    rule_id = "SA-OBS2"
    resource_types = frozenset({"AWS::Logs::LogGroup", "Custom::LogRetention"})
    fix = "Build the log group with main.py's _build_log_group, which sets the configured log_retention_days."

    def check(self, properties, logical_id, template):
        days = properties.get("RetentionInDays")
        if str(days) == str(self.config.log_retention_days):
            return []
        kept = "forever (no RetentionInDays)" if days is None else f"{days} days"
        return [f"log group keeps logs {kept}; log_retention_days is {self.config.log_retention_days}"]


@register
class FunctionActiveTracing(PolicyRule):
    """Every function traces with X-Ray (TracingConfig Active), so requests are followed end to end."""

    rule_id = "SA-OBS3"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Set tracing=lambda_.Tracing.ACTIVE on the function."

    def check(self, properties, logical_id, template):
        mode = properties.get("TracingConfig", {}).get("Mode")
        return [] if mode == "Active" else ["function does not have active X-Ray tracing"]


@register
class StageTracingAccessLogsThrottling(PolicyRule):
    """Every API stage has X-Ray tracing, an access log, and throttling for all methods, on the rendered
    template.

    Why: X-Ray and logs on API Gateway show a request's path and its failures; throttling bounds cost and
    load. Property overrides and escape hatches change the template after cdk-nag has read the construct's
    properties, so this checks what CloudFormation will receive.
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


@register
class FunctionErrorRateAlarm(PolicyRule):
    """Every application function (every function that is not a custom-resource provider) has an alarm on its
    error rate, Errors over Invocations, that notifies an SNS topic of this stack.

    Why: an error count alarms on traffic, not on failure, and an alarm without an action notifies nobody
    (CloudWatch user guide, "Using metric math"; AWS Control Tower CT.CLOUDWATCH.PR.1). A function added
    without one fails unseen.
    """

    rule_id = "SA-OBS5"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = (
        "Call main.py's _build_error_rate_alarm(function, ...) for the function: it alarms on the rate and "
        "notifies the alarm topic."
    )

    def check(self, properties, logical_id, template):
        if logical_id not in template.application_functions():
            return []
        for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
            alarm_properties = alarm.get("Properties", {})
            if _watches_error_rate(alarm_properties, logical_id) and _notifies_a_topic(alarm_properties, template):
                return []
        return ["function has no error-rate alarm (Errors / Invocations) that notifies an SNS topic of this stack"]


def _watches_error_rate(alarm: dict, function_id: str) -> bool:
    """The alarm's returned expression divides the function's Errors by its Invocations."""
    metrics = {metric.get("Id"): metric for metric in alarm.get("Metrics", [])}
    ids = {}
    for metric_id, metric in metrics.items():
        stat = metric.get("MetricStat", {}).get("Metric", {})
        dimensions = stat.get("Dimensions", [])
        if stat.get("Namespace") == "AWS/Lambda" and any(
            d.get("Name") == "FunctionName" and reference(d.get("Value")) == function_id for d in dimensions
        ):
            ids[stat.get("MetricName")] = metric_id
    if not {"Errors", "Invocations"} <= ids.keys():
        return False
    return any(
        metric.get("ReturnData", True)
        and ids["Errors"] in metric.get("Expression", "")
        and ids["Invocations"] in metric.get("Expression", "")
        for metric in metrics.values()
    )


def _notifies_a_topic(alarm: dict, template) -> bool:
    return any(
        template.resource(reference(action)).get("Type") == "AWS::SNS::Topic"
        for action in as_list(alarm.get("AlarmActions", []))
    )
