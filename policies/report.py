"""The review report: every plugin and rule that ran, every finding and every acknowledgement with its reason.

Rendered from CDK's validation report (policies.validation_report), grouped by resource, as markdown for a pull
request. `python app.py --report` synthesizes, writes `cdk.out/policy-report.md`, prints it, and exits non-zero
if any finding is unacknowledged.
"""

from collections import defaultdict

from policies.engine import PLUGIN_NAME, registered
from policies.validation_report import ValidationReport

PLUGIN_DOCS = {
    "AwsSolutions": "cdk-nag AwsSolutions pack (rules: https://github.com/cdklabs/cdk-nag/blob/main/RULES.md)",
    "Serverless": "cdk-nag Serverless pack (rules: https://github.com/cdklabs/cdk-nag/blob/main/RULES.md)",
}


def render(report: ValidationReport) -> str:
    lines = ["# Policy report", "", "## Plugins and rules that ran", ""]
    for plugin in report.plugins:
        lines.append(
            f"- **{plugin.name}** — {plugin.conclusion or '?'}: {PLUGIN_DOCS.get(plugin.name, '')}".rstrip(": ")
        )
        if plugin.name == PLUGIN_NAME:
            for rule in registered():
                summary = (rule.__doc__ or "").strip().splitlines()[0]
                lines.append(f"  - `{rule.rule_id}` {rule.__name__}: {summary}")
    by_resource: dict[str, list[str]] = defaultdict(list)
    for finding in report.open:
        by_resource[finding.construct_path].append(
            f"- ❌ **{finding.finding_id}** ({finding.severity}): {finding.description}"
            + (f" Fix: {finding.fix}" if finding.fix else "")
        )
    for acknowledged in report.acknowledged:
        by_resource[acknowledged.construct_path].append(
            f"- ✅ acknowledged `{acknowledged.finding_id}` at `{acknowledged.acknowledged_at}`: {acknowledged.reason}"
        )
    lines += ["", f"## Findings by resource ({len(report.open)} open, {len(report.acknowledged)} acknowledged)", ""]
    for path in sorted(by_resource):
        lines += [f"### `{path}`", "", *by_resource[path], ""]
    if not by_resource:
        lines.append("No findings.")
    return "\n".join(lines).rstrip() + "\n"
