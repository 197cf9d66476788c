"""CDK's validation report (`<outdir>/validation-report.json`, what `cdk synth` writes), read one way.

Every reader (the review report, the ledger, the tests) goes through `ValidationReport`: the plugins that ran,
each open finding and each acknowledged one, per violating construct. `parse` treats its input as untrusted:
anything that is not a report of the expected shape is `Malformed`, never a KeyError halfway through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class Malformed(ValueError):
    """An input that is not a ledger or a validation report of the expected shape."""


@dataclass(frozen=True)
class Plugin:
    name: str
    conclusion: str


@dataclass(frozen=True)
class OpenFinding:
    plugin: str
    rule: str
    construct_path: str
    description: str
    fix: str
    severity: str

    @property
    def finding_id(self) -> str:
        return f"{self.plugin}::{self.rule}"


@dataclass(frozen=True)
class Acknowledged:
    plugin: str
    rule: str
    construct_path: str
    finding_id: str
    reason: str
    acknowledged_at: str
    description: str = ""


@dataclass(frozen=True)
class ValidationReport:
    plugins: tuple[Plugin, ...]
    open: tuple[OpenFinding, ...]
    acknowledged: tuple[Acknowledged, ...]

    @classmethod
    def read(cls, path: Path) -> ValidationReport:
        """The report synthesis wrote; a missing file is an error (the gate must never pass on no report)."""
        if not path.is_file():
            raise FileNotFoundError(f"no validation report at {path}: did synthesis run the policy plugins?")
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> ValidationReport:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise Malformed(f"not JSON ({type(error).__name__})") from None
        return cls.from_json(document)

    @classmethod
    def from_json(cls, report: Any) -> ValidationReport:
        plugins, opened, acknowledged = [], [], []
        try:
            for plugin in _list(report, "pluginReports"):
                name = _string(plugin, "pluginName")
                plugins.append(Plugin(name, str(plugin.get("conclusion", ""))))
                for violation in _list(plugin, "violations"):
                    for path in _construct_paths(violation):
                        opened.append(
                            OpenFinding(
                                name,
                                _string(violation, "ruleName"),
                                path,
                                str(violation.get("description", "")),
                                str(violation.get("suggestedFix", "")),
                                str(violation.get("severity", "")),
                            )
                        )
                for suppressed in _list(plugin, "suppressedViolations"):
                    for path in _construct_paths(suppressed):
                        acknowledged.append(
                            Acknowledged(
                                name,
                                str(suppressed.get("ruleName", "")),
                                path,
                                _string(suppressed, "acknowledgedId"),
                                _string(suppressed, "reason"),
                                str(suppressed.get("acknowledgedAt", "")),
                                str(suppressed.get("description", "")),
                            )
                        )
        except (KeyError, TypeError, AttributeError) as error:
            raise Malformed(f"not a CDK validation report ({type(error).__name__}: {error})") from None
        return cls(tuple(plugins), tuple(opened), tuple(acknowledged))

    def open_ids(self) -> set[str]:
        """`<plugin>::<rule>` of every open finding."""
        return {finding.finding_id for finding in self.open}

    def open_of(self, plugin: str) -> list[OpenFinding]:
        return [finding for finding in self.open if finding.plugin == plugin]

    def acknowledged_of(self, plugin: str) -> list[Acknowledged]:
        return [finding for finding in self.acknowledged if finding.plugin == plugin]

    def suppressed(self) -> set[tuple[str, str]]:
        """(finding id, acknowledged at) of every acknowledged finding: what each acknowledgement matched."""
        return {(finding.finding_id, finding.acknowledged_at) for finding in self.acknowledged}


def _list(container: Any, key: str) -> list:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def _string(container: Any, key: str) -> str:
    value = container[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _construct_paths(finding: Any) -> list[str]:
    constructs = finding["violatingConstructs"]
    if not isinstance(constructs, list) or not constructs:
        raise TypeError("violatingConstructs is not a non-empty list")
    return [_string(construct, "constructPath") for construct in constructs]
