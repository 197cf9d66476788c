"""Observability: logs, traces and their limits, on every resource that serves a request."""

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
    """Every log group has a retention period: logs kept forever cost money and outlive their use."""

    rule_id = "SA-OBS2"
    resource_types = frozenset({"AWS::Logs::LogGroup"})
    fix = "Set retention on the log group (main.py's _build_log_group does)."

    def check(self, properties, logical_id, template):
        return [] if properties.get("RetentionInDays") else ["log group has no retention (kept forever)"]


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
