"""IAM: least privilege in every identity policy and resource permission."""

import re

from cfn.template import (
    Template,
    allow_statements,
    arn_text,
    reference,
    references,
    statement_actions,
    statement_resources,
)
from conventions import ACCOUNT_LOG_GROUPS, API_GATEWAY_LOGGING_ACTIONS, UNSCOPABLE_ACTIONS
from policies.engine import PolicyRule, register

FAMILY = "IAM"
IAM_POLICY_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"})
# Every resource of one service in an account: as broad as "*" for that service.
ACCOUNT_WIDE_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$")
# Every resource of one type in an account (`…:table/*`, `…:log-group:*`, `…:function:*`): a wildcard where the
# name goes. S3 is not among them: its ARNs name the bucket, so `bucket/*` is that bucket's objects.
TYPE_WIDE_ARN = re.compile(r"^arn:[^:]+:(?!s3:)[^:]+:[^:]*:[^:]*:[A-Za-z-]+[/:]\*$")
PSEUDO_PARAMETER = re.compile(r"\$\{[^}]*\}")


@register
class NoWildcardActions(PolicyRule):
    """No identity policy allows `*`, `service:*` or NotAction: every action is named.

    Why: least privilege. A wildcard grants actions AWS adds later, and hides what the code really calls.
    """

    rule_id = "SA-IAM1"
    resource_types = IAM_POLICY_TYPES
    fix = "List the exact actions the code calls (see TABLE_ACTIONS in main.py)."

    def check(self, properties, logical_id, template):
        problems = []
        for statement in allow_statements(properties):
            if "NotAction" in statement:
                problems.append("an Allow statement uses NotAction")
            for action in statement_actions(statement):
                if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                    problems.append(f"allows wildcard action {action}")
        return problems


@register
class UnscopedResourcesOnlyWhereUnavoidable(PolicyRule):
    """`Resource: "*"`, every resource of a service in the account (`arn:…:<service>:<region>:<account>:*`), or
    every resource of one type (`…:table/*`, `…:log-group:*`) is allowed only for actions that AWS offers no
    resource scoping for.

    Why: least privilege. Those actions are listed, with a reason, in UNSCOPABLE_ACTIONS. One role is
    exempt by construction: the CloudWatch role an AWS::ApiGateway::Account names may hold the seven
    AmazonAPIGatewayPushToCloudWatchLogs actions on the account's log groups, because API Gateway requires
    exactly that for every REST API in the account and region (deployability.ApiGatewayAccountRoleCanLog, rain#163).
    """

    rule_id = "SA-IAM2"
    resource_types = IAM_POLICY_TYPES
    fix = (
        "Scope the statement to the resource's ARN, or (only if AWS has no resource types) add the action to "
        "conventions.UNSCOPABLE_ACTIONS."
    )

    def check(self, properties, logical_id, template):
        problems = []
        for statement in allow_statements(properties):
            resources = [arn_text(r) for r in statement_resources(statement)]
            unscoped = [
                r
                for r in resources
                if r == "*" or any(p.match(PSEUDO_PARAMETER.sub("x", r)) for p in (ACCOUNT_WIDE_ARN, TYPE_WIDE_ARN))
            ]
            if "NotResource" in statement or unscoped:
                scopable = sorted(set(statement_actions(statement)) - UNSCOPABLE_ACTIONS)
                if scopable and not self._is_api_gateway_logging_grant(logical_id, template, scopable, unscoped):
                    where = "every resource (*)" if "*" in unscoped or not unscoped else ", ".join(unscoped)
                    problems.append(f"allows {', '.join(map(str, scopable))} on {where}")
        return problems

    @staticmethod
    def _is_api_gateway_logging_grant(logical_id: str, template: Template, actions: list, resources: list) -> bool:
        account_roles = {
            reference(account.get("Properties", {}).get("CloudWatchRoleArn"))
            for account in template.of_type("AWS::ApiGateway::Account").values()
        }
        return (
            logical_id in account_roles
            and set(actions) <= API_GATEWAY_LOGGING_ACTIONS
            and set(resources) == {ACCOUNT_LOG_GROUPS}
        )


@register
class NoAwsManagedPolicies(PolicyRule):
    """Roles carry no AWS managed policies: those are broad, change without notice, and hide the real grant."""

    rule_id = "SA-IAM3"
    resource_types = frozenset({"AWS::IAM::Role"})
    fix = "Replace the managed policy with an inline policy that names the exact actions and resources."

    def check(self, properties, logical_id, template):
        return [
            f"role has AWS managed policy {arn_text(arn)}"
            for arn in properties.get("ManagedPolicyArns", [])
            if ":iam::aws:policy/" in arn_text(arn)
        ]


@register
class InvokePermissionScopedToApi(PolicyRule):
    """API Gateway may invoke a function only from an API of this stack (SourceArn names the RestApi).

    Why: without SourceArn, any API Gateway API in any account could invoke the function.
    """

    rule_id = "SA-IAM4"
    resource_types = frozenset({"AWS::Lambda::Permission"})
    fix = "Use apigateway.LambdaIntegration (it scopes SourceArn to the API and method)."

    def check(self, properties, logical_id, template):
        if properties.get("Principal") != "apigateway.amazonaws.com":
            return []
        apis = set(template.of_type("AWS::ApiGateway::RestApi"))
        if not apis & references(properties.get("SourceArn")):
            return ["API Gateway invoke permission is not scoped to a RestApi of this stack (SourceArn)"]
        return []


@register
class FunctionRoleOfItsOwn(PolicyRule):
    """Every application function runs with a role that no other function uses.

    Why: a shared role grants each function what the other's code calls, so neither is least privilege, and
    the least-privilege proof can no longer tell whose call a grant is for.
    """

    rule_id = "SA-IAM5"
    resource_types = frozenset({"AWS::Lambda::Function"})
    fix = "Give the function its own iam.Role with only the (action, resource) pairs its code calls."

    def check(self, properties, logical_id, template):
        if logical_id not in template.application_functions():
            return []
        role = reference(properties.get("Role"))
        sharing = sorted(
            other
            for other, function in template.of_type("AWS::Lambda::Function").items()
            if other != logical_id and reference(function.get("Properties", {}).get("Role")) == role
        )
        return [f"function shares its role {role} with {', '.join(sharing)}"] if sharing else []
