"""SARIF 2.1.0 for the whole gate: cdk-nag, the project's rules, the selected compliance profiles and cfn-lint
in one file, each finding at the source line that created its construct, so code scanning annotates the pull
request's diff rather than the generated template.

One run with one tool: GitHub rejects several runs of one tool and category in one upload (GitHub changelog
2024-05-06, "code scanning will stop combining runs from a single upload"). Rule ids are the finding ids that
acknowledgements use (`<plugin>::<rule>`, `cfn-lint::<rule>`). An acknowledged finding is a result with an
external suppression whose justification is the acknowledgement's reason.

Construct stack traces hold no user code under jsii (every trace in the validation report ends in "no user
code"), so the location comes from the construct path: its deepest id that the stack's source passes as a
construct id (the argument after the scope, or one bound to a `construct_id` parameter of the file's own
helpers), else the stack class's own line (CDK's singletons, which no line of ours names). Code scanning
fingerprints each result by its rule and construct path, so findings sharing a line stay separate alerts.
"""

from __future__ import annotations

import ast
import hashlib
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
    rule_description: str
    message: str
    fix: str
    construct_path: str
    level: str
    help_uri: str | None
    acknowledged_because: str | None = None

    def rule(self) -> dict:
        """The rule's descriptor, with the descriptions and help GitHub requires of every rule (GH2012)."""
        description = self.rule_description or self.rule_id
        descriptor = {
            "id": self.rule_id,
            "shortDescription": {"text": description.split(". ")[0].rstrip(".")[:1000]},
            "fullDescription": {"text": description},
            "help": {"text": f"Fix: {self.fix}" if self.fix else description},
        }
        if self.help_uri:
            descriptor["helpUri"] = self.help_uri
        return descriptor

    def result_text(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.message or self.rule_id}{fix} [{self.construct_path or 'template'}]"

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.rule_id}\n{self.construct_path}".encode()).hexdigest()[:32]


_SCOPES = ("self", "scope")
_ID_PARAMETERS = ("construct_id", "id")


class SourceLocator:
    """Construct paths to (file relative to the project, line), read from the stack's source with ast."""

    def __init__(self, project_root: Path, stack_source: str):
        self._file = stack_source
        tree = ast.parse((project_root / stack_source).read_text(encoding="utf-8"))
        id_positions = {
            node.name: [i - 1 for i, arg in enumerate(node.args.args) if arg.arg in _ID_PARAMETERS]
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
        }
        self._lines: dict[str, int] = {}
        for call in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: n.lineno):
            for argument in _construct_id_arguments(call, id_positions):
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


def _construct_id_arguments(call: ast.Call, id_positions: dict[str, list[int]]) -> list[ast.expr]:
    """`Construct(self, "Id", ...)`, and `self._helper("Id")` where the helper's parameter is `construct_id`."""
    arguments = []
    if len(call.args) >= 2 and isinstance(call.args[0], ast.Name) and call.args[0].id in _SCOPES:
        arguments.append(call.args[1])
    helper = call.func.attr if isinstance(call.func, ast.Attribute) else None
    for position in id_positions.get(helper or "", []):
        if 0 <= position < len(call.args):
            arguments.append(call.args[position])
    arguments += [keyword.value for keyword in call.keywords if keyword.arg in _ID_PARAMETERS]
    return arguments


def report_findings(report: ValidationReport) -> list[Finding]:
    findings = [
        Finding(
            finding.finding_id,
            finding.description,
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
    paths = [str(template) for template in templates]
    if not paths:
        raise ValueError("no templates for cfn-lint to read (with none it would read standard input)")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", *paths],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    # cfn-lint exits with the levels it found as bits 2, 4 and 8; anything else (1, 16, 32: a crash, a bad
    # region, a bad rule) is cfn-lint failing to lint.
    if result.returncode & ~0b1110 or not result.stdout.strip():
        raise RuntimeError(f"cfn-lint failed (exit {result.returncode}): {result.stderr.strip()[:500]}")
    findings = []
    for match in json.loads(result.stdout):
        path = match["Location"]["Path"]
        logical_id = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        rule = match["Rule"]
        findings.append(
            Finding(
                f"{CFN_LINT}::{rule['Id']}",
                rule.get("Description") or rule.get("ShortDescription", ""),
                f"{match['Message']} (template path: {'/'.join(map(str, path))})",
                "",
                construct_paths.get(logical_id, ""),
                CFN_LINT_LEVELS.get(match["Level"].lower(), "warning"),
                rule.get("Source") or CFN_LINT_DOCS,
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
            "message": {"text": finding.result_text()},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": source_file},
                        "region": {"startLine": line},
                    },
                    "logicalLocations": [{"fullyQualifiedName": finding.construct_path or "template"}],
                }
            ],
            "partialFingerprints": {"primaryLocationLineHash": finding.fingerprint()},
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
