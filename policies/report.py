"""The review report: every plugin and rule that ran, every finding and every acknowledgement with its reason.

Built from CDK's `validation-report.json` (the same file `cdk synth` writes), grouped by resource, as
markdown for a pull request. `python -m policies.report` synthesizes the app, writes
`cdk.out/policy-report.md`, prints it, and exits non-zero if any finding is unacknowledged.
"""

import json
import sys
from collections import defaultdict

from app import PROJECT_ROOT, build_app
from policies.catalog import ALL_RULES

PLUGIN_DOCS = {
    "AwsSolutions": "cdk-nag AwsSolutions pack (rules: https://github.com/cdklabs/cdk-nag/blob/main/RULES.md)",
    "Serverless": "cdk-nag Serverless pack (rules: https://github.com/cdklabs/cdk-nag/blob/main/RULES.md)",
}


def render(report: dict) -> str:
    lines = ["# Policy report", ""]
    lines += ["## Plugins and rules that ran", ""]
    for plugin in report.get("pluginReports", []):
        name = plugin["pluginName"]
        lines.append(f"- **{name}** — {plugin.get('conclusion', '?')}: {PLUGIN_DOCS.get(name, '')}".rstrip(": "))
        if name not in PLUGIN_DOCS and name != "Construct Annotations":
            for rule in ALL_RULES:
                summary = (rule.__doc__ or "").strip().splitlines()[0]
                lines.append(f"  - `{rule.rule_id}` {rule.__name__}: {summary}")
    by_resource: dict[str, list[str]] = defaultdict(list)
    open_count = acknowledged_count = 0
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                open_count += 1
                by_resource[construct["constructPath"]].append(
                    f"- ❌ **{plugin['pluginName']}::{violation['ruleName']}** ({violation.get('severity', '')}): "
                    f"{violation['description']}" + (f" Fix: {violation['suggestedFix']}" if violation.get("suggestedFix") else "")
                )
        for suppressed in plugin.get("suppressedViolations", []):
            for construct in suppressed.get("violatingConstructs", []):
                acknowledged_count += 1
                by_resource[construct["constructPath"]].append(
                    f"- ✅ acknowledged `{suppressed['acknowledgedId']}` at `{suppressed['acknowledgedAt']}`: "
                    f"{suppressed['reason']}"
                )
    lines += ["", f"## Findings by resource ({open_count} open, {acknowledged_count} acknowledged)", ""]
    for path in sorted(by_resource):
        lines += [f"### `{path}`", "", *by_resource[path], ""]
    if not by_resource:
        lines.append("No findings.")
    return "\n".join(lines).rstrip() + "\n"


def open_findings(report: dict) -> int:
    return sum(
        len(v.get("violatingConstructs", [])) for p in report.get("pluginReports", []) for v in p.get("violations", [])
    )


def main() -> int:
    outdir = PROJECT_ROOT / "cdk.out"
    try:
        build_app(outdir=str(outdir)).synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    report = json.loads((outdir / "validation-report.json").read_text())
    markdown = render(report)
    target = outdir / "policy-report.md"
    target.write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"Written to {target}")
    return 1 if open_findings(report) else 0


if __name__ == "__main__":
    sys.exit(main())
