"""The review of one synthesis, for people and for CI: the report (`--report`), the ledger (`--ledger`), the
SARIF file (`--sarif FILE`) and the stale-acknowledgement check, which fail together on anything unacknowledged.

app.py parses these options beside its own and hands the app over; nothing here builds or imports the stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aws_cdk import App, CfnElement, Stack

from config import ServiceConfig
from policies import ledger
from policies.acknowledgements import acknowledgements, sources_of, stale
from policies.pack import PLUGIN_VERSION
from policies.report import render
from policies.sarif import SourceLocator, cfn_lint_findings, report_findings, sarif_log
from policies.validation_report import ValidationReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", action="store_true", help="write and print the review report (policy-report.md)")
    parser.add_argument("--ledger", action="store_true", help="rewrite policies/ledger.json from this synthesis")
    parser.add_argument("--sarif", metavar="FILE", help="write every finding (and cfn-lint's) as SARIF 2.1.0 to FILE")


def requested(args: argparse.Namespace) -> bool:
    return bool(args.report or args.ledger or args.sarif)


def run(app: App, stack: Stack, config: ServiceConfig, args: argparse.Namespace, project_root: Path) -> int:
    """Synthesize, then write what was asked; 1 if a finding is open or an acknowledgement matched nothing."""
    failed = False
    try:
        app.synth()
    except RuntimeError as error:  # the report says which findings failed it
        if "ValidationFailed" not in str(error):
            raise
        failed = True
    outdir = Path(app.outdir)
    report = ValidationReport.read(outdir / "validation-report.json")
    applied = acknowledgements(stack, config)
    unmatched = stale(applied, report.suppressed())
    if args.ledger:
        print(f"Wrote {ledger.LEDGER} ({ledger.write(report)} acknowledged findings)")
    if args.report:
        target, markdown = (
            outdir / "policy-report.md",
            render(report, template_resource_types(outdir), sources_of(applied)),
        )
        target.write_text(markdown, encoding="utf-8")
        print(markdown)
        print(f"Written to {target}")
    if args.sarif:
        write_sarif(Path(args.sarif), stack, report, outdir, project_root)
    for ack in unmatched:
        print(
            f"error: stale acknowledgement {ack.finding_id} at {ack.target.node.path}: it matches no finding; "
            "remove it from policies/acknowledgements.py",
            file=sys.stderr,
        )
    return 1 if failed or report.open or unmatched else 0


def refusal(outdir: Path) -> str:
    """The closing line of a refused synthesis (CDK has printed each finding, its fix and its acknowledgement id)."""
    report = ValidationReport.read(outdir / "validation-report.json")
    count = len({(finding.finding_id, finding.construct_path) for finding in report.open})
    return (
        f"error: synthesis refused: {count} unacknowledged finding{'s' * (count != 1)} (above). Fix each as its "
        "'Suggested fix' says, or acknowledge it with a reason in policies/acknowledgements.py"
    )


def write_sarif(target: Path, stack: Stack, report: ValidationReport, outdir: Path, project_root: Path) -> None:
    construct_paths = {
        stack.resolve(stack.get_logical_id(element)): element.node.path
        for element in stack.node.find_all()
        if isinstance(element, CfnElement)
    }
    findings = report_findings(report) + cfn_lint_findings(
        sorted(outdir.glob("*.template.json")), construct_paths, project_root
    )
    log = sarif_log(findings, SourceLocator(project_root, "main.py"), PLUGIN_VERSION)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(log, indent=1), encoding="utf-8")
    suppressed = sum("suppressions" in result for result in log["runs"][0]["results"])
    print(f"Wrote {target} ({len(findings)} findings, {suppressed} acknowledged)")


def template_resource_types(outdir: Path) -> frozenset[str]:
    return frozenset(
        resource["Type"]
        for template in outdir.glob("*.template.json")
        for resource in json.loads(template.read_text(encoding="utf-8")).get("Resources", {}).values()
    )
