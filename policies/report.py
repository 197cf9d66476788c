"""The review report: every plugin and rule that ran, every finding and every acknowledgement with its reason.

Rendered from CDK's validation report (policies.validation_report), grouped by resource, as markdown for a pull
request. `python app.py --report` synthesizes, writes `cdk.out/policy-report.md`, prints it, and exits non-zero
if any finding is unacknowledged.
"""

import re
from collections import defaultdict

from policies.engine import PLUGIN_NAME, registered
from policies.profiles import CDK_NAG_RULES, control_tower_controls, profile_of_plugin
from policies.validation_report import ValidationReport

DEFAULT_PACKS = {"AwsSolutions": "cdk-nag AwsSolutions pack", "Serverless": "cdk-nag Serverless pack"}


def plugin_documentation(plugin_name: str) -> tuple[str, str | None]:
    """A plugin's title and the address of its rules' documentation (None for the project's own rules, whose
    documentation is each rule's docstring)."""
    if plugin_name in DEFAULT_PACKS:
        return DEFAULT_PACKS[plugin_name], CDK_NAG_RULES
    if profile := profile_of_plugin(plugin_name):
        return profile.title, profile.documentation
    return ("the project's rules (policies/rules/)", None) if plugin_name == PLUGIN_NAME else (plugin_name, None)


SCOPE = (
    "One synthesis of the stack, checked by the plugins below. A finding names one CloudFormation resource by "
    "its construct path. An acknowledgement is made at a construct (`at`) and covers that finding on the "
    "resources under it; it is written once, with its reason, in the line of policies/acknowledgements.py "
    "given beside the reason. An open finding fails synthesis."
)


def render(
    report: ValidationReport, resource_types: frozenset[str] = frozenset(), sources: dict[str, str] | None = None
) -> str:
    """`resource_types`: the CloudFormation types in the templates, which decide the Control Tower controls
    that apply; `sources`: each acknowledgement reason's line in policies/acknowledgements.py."""
    sources = sources or {}
    lines = ["# Policy report", "", "## What this covers", "", SCOPE, "", "## Plugins and rules that ran", ""]
    for plugin in report.plugins:
        title, address = plugin_documentation(plugin.name)
        lines.append(
            f"- **{plugin.name}** — {plugin.conclusion or '?'}: {title}" + (f" (rules: {address})" if address else "")
        )
        if plugin.name == PLUGIN_NAME:
            for rule in registered():
                lines.append(f"  - `{rule.rule_id}` {rule.__name__}: {rule_summary(rule)}")
    by_resource: dict[str, list[str]] = defaultdict(list)
    for finding in report.open:
        by_resource[finding.construct_path].append(
            f"- ❌ **{finding.finding_id}** ({finding.severity}): {finding.description}"
            + (f" Fix: {finding.fix}" if finding.fix else "")
        )
    lines += ["", f"## Open findings by resource ({len(report.open)} open)", ""]
    for path in sorted(by_resource):
        lines += [f"### `{path}`", "", *by_resource[path], ""]
    if not by_resource:
        lines += ["None.", ""]
    by_reason: dict[str, list[str]] = defaultdict(list)
    for acknowledged in report.acknowledged:
        at = (
            ""
            if acknowledged.acknowledged_at == acknowledged.construct_path
            else f" (at `{acknowledged.acknowledged_at}`)"
        )
        by_reason[acknowledged.reason].append(f"  - `{acknowledged.finding_id}` on `{acknowledged.construct_path}`{at}")
    lines += [
        f"## Acknowledged findings by reason ({len(report.acknowledged)} acknowledged, {len(by_reason)} reasons)",
        "",
    ]
    for reason, covered in by_reason.items():
        source = f" ({sources[reason]})" if reason in sources else ""
        lines += [f"- **{reason}**{source}", *sorted(covered)]
    lines += compliance_matrix(report, resource_types)
    return "\n".join(lines).rstrip() + "\n"


def rule_summary(rule) -> str:
    """A rule's whole first paragraph, on one line."""
    return " ".join((rule.__doc__ or "").strip().split("\n\n")[0].split())


def compliance_matrix(report: ValidationReport, resource_types: frozenset[str]) -> list[str]:
    """Per selected profile, every control that applies: ❌ fail, ✅ acknowledged (with the reason) or pass."""
    profiles = [profile for plugin in report.plugins if (profile := profile_of_plugin(plugin.name))]
    if not profiles:
        return []
    lines = ["", "## Compliance matrix", ""]
    for profile in profiles:
        lines += [f"### {profile.name}: {profile.title}", "", f"Rules: {profile.documentation}", ""]
        rules: dict[str, tuple[str, str]] = {}
        if profile.name == "control-tower":
            rules = {
                rule: (control.control_id, control.title)
                for rule, control in control_tower_controls().items()
                if resource_types & set(control.resource_types)
            }
        else:
            lines += [
                "cdk-nag 3 reports violations only (its MIGRATION.md: the per-rule compliance reports were "
                "removed), so this lists every rule that failed or is acknowledged; the pack's other rules "
                "passed or did not apply.",
                "",
            ]
        for finding in [*report.open_of(profile.plugin_name), *report.acknowledged_of(profile.plugin_name)]:
            rules.setdefault(finding.rule, (finding.rule.removeprefix(profile.rule_prefix), ""))
        lines += ["| Control | Status | Resources and reasons |", "| --- | --- | --- |"]
        for rule, (control_id, title) in sorted(rules.items(), key=lambda item: _natural(item[1][0])):
            control = f"{control_id} {title}".strip()
            lines.append(f"| {control} (`{rule}`) | {_status(report, profile.plugin_name, rule)} |")
        lines.append("")
    return lines


def _natural(control_id: str) -> list:
    """CT.S3.PR.2 before CT.S3.PR.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", control_id)]


def _status(report: ValidationReport, plugin: str, rule: str) -> str:
    opened = sorted({f.construct_path for f in report.open_of(plugin) if f.rule == rule})
    if opened:
        return "❌ fail | " + "<br>".join(f"`{path}`" for path in opened)
    reasons: dict[str, list[str]] = defaultdict(list)
    for finding in report.acknowledged_of(plugin):
        if finding.rule == rule:
            reasons[finding.reason].append(f"`{finding.construct_path}`")
    if reasons:
        return "✅ acknowledged | " + "<br>".join(f"{', '.join(paths)}: {reason}" for reason, paths in reasons.items())
    return "pass |"
