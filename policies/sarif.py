"""SARIF 2.1.0 for the whole gate: cdk-nag, the project's rules, the selected compliance profiles and cfn-lint
in one file, each finding at the source line that created its construct, so code scanning annotates the pull
request's diff rather than the generated template.

One run with one tool: GitHub rejects several runs of one tool and category in one upload (GitHub changelog
2024-05-06, "code scanning will stop combining runs from a single upload"). Rule ids are the finding ids that
acknowledgements use (`<plugin>::<rule>`, `cfn-lint::<rule>`). An acknowledged finding is a result with an
external suppression whose justification is the acknowledgement's reason.

Construct stack traces hold no user code under jsii (every trace in the validation report ends in "no user
code"), so the location comes from the construct path: its deepest id that appears as a string argument of a
call in the stack's source, else the stack class's own line (CDK's singletons, which no line of ours names).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from policies.report import plugin_documentation
from policies.validation_report import ValidationReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "serverless-automation-gate"
TOOL_DOCS = "https://docs.aws.amazon.com/cdk/v2/guide/policy-validation-synthesis.html"
CFN_LINT = "cfn-lint"
CFN_LINT_DOCS = "https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/rules.md"
CFN_LINT_LEVELS = {"error": "error", "warning": "warning", "informational": "note"}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    description: str
    fix: str
    construct_path: str
    level: str
    help_uri: str | None
    acknowledged_because: str | None = None

    def message(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.description or self.rule_id}{fix} [{self.construct_path or 'template'}]"

    def rule(self) -> dict:
        """The rule's descriptor, with the descriptions and help GitHub requires of every rule (GH2012)."""
        description = self.description or self.rule_id
        descriptor = {
            "id": self.rule_id,
            "shortDescription": {"text": description.split(". ")[0].rstrip(".")[:1000]},
            "fullDescription": {"text": description},
            "help": {"text": f"Fix: {self.fix}" if self.fix else description},
        }
        if self.help_uri:
            descriptor["helpUri"] = self.help_uri
        return descriptor


class SourceLocator:
    """Construct paths to (file relative to the project, line), read from the stack's source with ast."""

    def __init__(self, project_root: Path, stack_source: str):
        self._file = stack_source
        tree = ast.parse((project_root / stack_source).read_text(encoding="utf-8"))
        self._lines: dict[str, int] = {}
        for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
            if isinstance(node, ast.Call):
                for argument in node.args:
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        self._lines.setdefault(argument.value, argument.lineno)
        self._stack_line = next(
            node.lineno
            for node in tree.body
            if isinstance(node, ast.ClassDef) and any(getattr(base, "id", "") == "Stack" for base in node.bases)
        )

    def locate(self, construct_path: str) -> tuple[str, int]:
        ids = construct_path.split("/")[1:]
        for construct_id in reversed(ids):
            if construct_id in self._lines:
                return self._file, self._lines[construct_id]
        return self._file, self._stack_line


def report_findings(report: ValidationReport) -> list[Finding]:
    findings = [
        Finding(
            finding.finding_id,
            finding.description,
            finding.fix,
            finding.construct_path,
            "warning" if finding.severity == "warning" else "error",
            plugin_documentation(finding.plugin)[1],
        )
        for finding in report.open
    ]
    findings += [
        Finding(
            finding.finding_id,
            finding.description,
            "",
            finding.construct_path,
            "error",
            plugin_documentation(finding.plugin)[1],
            acknowledged_because=finding.reason,
        )
        for finding in report.acknowledged
    ]
    return findings


def cfn_lint_findings(templates: Iterable[Path], construct_paths: dict[str, str], project_root: Path) -> list[Finding]:
    """cfn-lint's matches (the real command, with the project's .cfnlintrc) at the constructs they concern."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", *map(str, templates)],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    # cfn-lint's exit code is a bit mask of the levels it found (2, 4, 8); an odd one means it failed itself.
    if result.returncode & 1 or not result.stdout.strip():
        raise RuntimeError(f"cfn-lint failed (exit {result.returncode}): {result.stderr.strip()[:500]}")
    findings = []
    for match in json.loads(result.stdout):
        path = match["Location"]["Path"]
        logical_id = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        findings.append(
            Finding(
                f"{CFN_LINT}::{match['Rule']['Id']}",
                f"{match['Message']} (template path: {'/'.join(map(str, path))})",
                "",
                construct_paths.get(logical_id, ""),
                CFN_LINT_LEVELS.get(match["Level"].lower(), "warning"),
                CFN_LINT_DOCS,
            )
        )
    return findings


def sarif_log(findings: list[Finding], locator: SourceLocator, tool_version: str) -> dict:
    rules: dict[str, Finding] = {}
    for finding in findings:
        rules.setdefault(finding.rule_id, finding)
    rule_ids = sorted(rules)
    results = []
    for finding in findings:
        source_file, line = locator.locate(finding.construct_path)
        result = {
            "ruleId": finding.rule_id,
            "ruleIndex": rule_ids.index(finding.rule_id),
            "level": finding.level,
            "message": {"text": finding.message()},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": source_file},
                        "region": {"startLine": line},
                    },
                    "logicalLocations": [{"fullyQualifiedName": finding.construct_path or "template"}],
                }
            ],
        }
        if finding.acknowledged_because is not None:
            result["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": finding.acknowledged_because}
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": tool_version,
                        "informationUri": TOOL_DOCS,
                        "rules": [rules[rule_id].rule() for rule_id in rule_ids],
                    }
                },
                "results": results,
            }
        ],
    }
