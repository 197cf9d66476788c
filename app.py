#!/usr/bin/env python3
"""The CDK app: context -> ServiceConfig -> the one stack, then tags and the policy gate on the whole app.

`cdk.json` runs this file for the CDK CLI. Run directly (`python app.py [-c key=value ...]`) it synthesizes
to ./cdk.out with the same context, so the gate needs no Node.js CLI. After that one synthesis, `--report`
writes and prints the review report (exit 1 on an unacknowledged finding) and `--ledger` rewrites
policies/ledger.json from it.
"""

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from aws_cdk import App, CfnElement

from config import SETTINGS, ConfigError, ServiceConfig
from conventions import apply_tags
from main import ServerlessBackendStack
from policies import ledger
from policies.acknowledgements import acknowledgements, apply_acknowledgements, stale
from policies.pack import PLUGIN_VERSION, apply_policies
from policies.report import render
from policies.sarif import SourceLocator, cfn_lint_findings, report_findings, sarif_log
from policies.validation_report import ValidationReport

PROJECT_ROOT = Path(__file__).parent
STACK_ID = "ServerlessAutomation"
# CDK fails synthesis on a finding of severity error only, and lets cdk-nag's warnings through unless this flag
# is on (aws-cdk-lib core/lib/private/synthesis-validation.js). Set after the deployer's context: a warning is
# fixed or acknowledged, never switched off.
FAIL_ON_WARNINGS = {"@aws-cdk/core:strictCfnValidateErrors": True}


def service_stack(app: App) -> ServerlessBackendStack:
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, ServerlessBackendStack)
    return stack


def cdk_json_context() -> dict:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def build_app(
    context: dict | None = None,
    *,
    stack_type: Callable[..., ServerlessBackendStack] = ServerlessBackendStack,
    **app_options,
) -> App:
    """The app with the stack, tags and policies; `context` overrides cdk.json (as `-c` does). `stack_type`
    builds the stack (the tests grow it with a subclass, as a team grows main.py)."""
    app = App(context={**cdk_json_context(), **(context or {}), **FAIL_ON_WARNINGS}, **app_options)
    config = ServiceConfig.from_context(app.node)
    stack = stack_type(
        app,
        STACK_ID,
        config=config,
        description="serverless-automation: API Gateway (REST) -> Lambda -> DynamoDB",
    )
    apply_tags(app)
    apply_policies(app, config)
    apply_acknowledgements(stack, config)
    return app


def context_overrides(pairs: list[str]) -> dict:
    """`-c key=value` options as a dict; ConfigError for one without a key and a value."""
    overrides = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            name = key if key in SETTINGS else "api_auth"
            raise ConfigError(f"-c {pair}: expected KEY=VALUE, for example -c {name}={SETTINGS[name].example}")
        overrides[key] = value
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-o", "--output", default=str(PROJECT_ROOT / "cdk.out"), help="the cloud assembly's directory")
    parser.add_argument("--report", action="store_true", help="write and print the review report (policy-report.md)")
    parser.add_argument("--ledger", action="store_true", help="rewrite policies/ledger.json from this synthesis")
    parser.add_argument("--sarif", metavar="FILE", help="write every finding (and cfn-lint's) as SARIF 2.1.0 to FILE")
    args = parser.parse_args(argv)
    # Under the CDK CLI, CDK_OUTDIR and the CLI's context are set and take precedence.
    outdir = None if "CDK_OUTDIR" in os.environ else args.output
    try:
        app = build_app(context_overrides(args.context), outdir=outdir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    if not (args.report or args.ledger or args.sarif):
        try:
            assembly = app.synth()
        except RuntimeError as error:
            if "ValidationFailed" not in str(error):
                raise
            sys.exit(refusal(Path(app.outdir)))
        if outdir is not None:
            for stack in assembly.stacks:
                print(f"Synthesized {stack.stack_name}: {Path(assembly.directory) / stack.template_file}")
        return
    failed = False
    try:
        app.synth()
    except RuntimeError as error:  # the report says which findings failed it
        if "ValidationFailed" not in str(error):
            raise
        failed = True
    outdir = Path(app.outdir)
    report = ValidationReport.read(outdir / "validation-report.json")
    unmatched = stale(acknowledgements(service_stack(app), service_stack(app).config), report.suppressed())
    if args.ledger:
        print(f"Wrote {ledger.LEDGER} ({ledger.write(report)} acknowledged findings)")
    if args.report:
        target, markdown = outdir / "policy-report.md", render(report, template_resource_types(outdir))
        target.write_text(markdown, encoding="utf-8")
        print(markdown)
        print(f"Written to {target}")
    if args.sarif:
        write_sarif(Path(args.sarif), app, report, outdir)
    for ack in unmatched:
        print(
            f"error: stale acknowledgement {ack.finding_id} at {ack.target.node.path}: it matches no finding; "
            "remove it from policies/acknowledgements.py",
            file=sys.stderr,
        )
    sys.exit(1 if failed or report.open or unmatched else 0)


def refusal(outdir: Path) -> str:
    """The closing line of a refused synthesis (CDK has printed each finding, its fix and its acknowledgement id)."""
    report = ValidationReport.read(outdir / "validation-report.json")
    count = len({(finding.finding_id, finding.construct_path) for finding in report.open})
    return (
        f"error: synthesis refused: {count} unacknowledged finding{'s' * (count != 1)} (above). Fix each as its "
        "'Suggested fix' says, or acknowledge it with a reason in policies/acknowledgements.py"
    )


def write_sarif(target: Path, app: App, report: ValidationReport, outdir: Path) -> None:
    stack = service_stack(app)
    construct_paths = {
        stack.resolve(stack.get_logical_id(element)): element.node.path
        for element in stack.node.find_all()
        if isinstance(element, CfnElement)
    }
    findings = report_findings(report) + cfn_lint_findings(
        sorted(outdir.glob("*.template.json")), construct_paths, PROJECT_ROOT
    )
    log = sarif_log(findings, SourceLocator(PROJECT_ROOT, "main.py"), PLUGIN_VERSION)
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


if __name__ == "__main__":
    main()
