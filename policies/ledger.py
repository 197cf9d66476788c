"""The acknowledgement ledger: every acknowledged finding, sorted, committed, so that review sees each change.

`policies/ledger.json` is written from CDK's `validation-report.json` (what `cdk synth` writes): one entry per
violating construct with the construct path, the finding id and the reason. The gate fails when the
committed file differs from what synthesis produces (tests/test_ledger.py), so adding, removing or rewording
an acknowledgement shows up as a diff of this file in the pull request.

`python -m policies.ledger write` rewrites it; `python -m policies.ledger delta BASE_LEDGER HEAD_REPORT`
prints, as markdown for a job summary, what changed between the merge base's committed ledger and the
head's freshly synthesized report: acknowledgements added, removed or reworded, and open findings. Both
inputs are treated as untrusted data: anything malformed is reported in the output, never a crash.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LEDGER = Path(__file__).parent / "ledger.json"
ENTRY_KEYS = ("constructPath", "findingId", "reason")


class Malformed(ValueError):
    """An input that is not a ledger or a validation report of the expected shape."""


def entries_from_report(report: dict) -> list[dict]:
    """The sorted ledger entries of a validation report's suppressed (acknowledged) findings."""
    entries = {
        (construct["constructPath"], suppressed["acknowledgedId"]): suppressed["reason"]
        for plugin in _list(report, "pluginReports")
        for suppressed in _list(plugin, "suppressedViolations")
        for construct in _list(suppressed, "violatingConstructs")
    }
    return [
        {"constructPath": path, "findingId": finding_id, "reason": reason}
        for (path, finding_id), reason in sorted(entries.items())
    ]


def open_findings_of(report: dict) -> list[dict]:
    return sorted(
        (
            {"constructPath": construct["constructPath"], "findingId": f"{plugin['pluginName']}::{violation['ruleName']}"}
            for plugin in _list(report, "pluginReports")
            for violation in _list(plugin, "violations")
            for construct in _list(violation, "violatingConstructs")
        ),
        key=lambda f: (f["constructPath"], f["findingId"]),
    )


def render_ledger(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"


def parse_ledger(text: str) -> list[dict]:
    try:
        entries = json.loads(text)
    except ValueError as error:
        raise Malformed(f"not JSON ({error})") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and set(e) == set(ENTRY_KEYS) and all(isinstance(e[k], str) for k in ENTRY_KEYS)
        for e in entries
    ):
        raise Malformed(f"not a list of objects with exactly {', '.join(ENTRY_KEYS)} (strings)")
    return entries


def parse_report(text: str) -> dict:
    try:
        report = json.loads(text)
        for plugin in _list(report, "pluginReports"):
            _strings(plugin, "pluginName")
            for suppressed in _list(plugin, "suppressedViolations"):
                _strings(suppressed, "acknowledgedId", "reason")
                _constructs(suppressed)
            for violation in _list(plugin, "violations"):
                _strings(violation, "ruleName")
                _constructs(violation)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise Malformed(f"not a CDK validation report ({type(error).__name__}: {error})") from None
    return report


def _strings(container: dict, *keys: str) -> None:
    for key in keys:
        if not isinstance(container[key], str):
            raise TypeError(f"{key} is not a string")


def _constructs(finding: dict) -> None:
    constructs = finding["violatingConstructs"]
    if not isinstance(constructs, list) or not constructs:
        raise TypeError("violatingConstructs is not a non-empty list")
    for construct in constructs:
        _strings(construct, "constructPath")


def delta(base_ledger: str | None, head_report: str | None) -> str:
    """Markdown: what the head changes in the acknowledgements, against the merge base's ledger."""
    lines = ["## Acknowledgement changes (merge base → head)", ""]
    problems = []
    base = head = None
    try:
        base = parse_ledger(base_ledger) if base_ledger is not None else []
    except Malformed as error:
        problems.append(f"the merge base's ledger is malformed: {error}")
    try:
        head = parse_report(head_report) if head_report is not None else None
        if head is None:
            problems.append("the head's validation report is missing (did synthesis run?)")
    except Malformed as error:
        problems.append(f"the head's validation report is malformed: {error}")
    if problems:
        return "\n".join([*lines, *(f"- ⚠️ {_text(p)}" for p in problems), ""])
    before = {(e["constructPath"], e["findingId"]): e["reason"] for e in base}
    after = {(e["constructPath"], e["findingId"]): e["reason"] for e in entries_from_report(head)}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    reworded = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    opened = open_findings_of(head)
    if not (added or removed or reworded or opened):
        return "\n".join([*lines, "No acknowledgement added, removed or reworded; no open finding.", ""])
    for title, keys, describe in (
        ("Added", added, lambda k: after[k]),
        ("Removed", removed, lambda k: before[k]),
        ("Reworded", reworded, lambda k: f"{before[k]} → {after[k]}"),
    ):
        if keys:
            lines += [f"### {title} ({len(keys)})", "", "| Construct | Finding | Reason |", "| --- | --- | --- |"]
            lines += [f"| `{_text(p)}` | `{_text(f)}` | {_text(describe((p, f)))} |" for p, f in keys]
            lines.append("")
    if opened:
        lines += [f"### Open findings ({len(opened)}): the gate fails on these", ""]
        lines += [f"- `{_text(f['constructPath'])}` `{_text(f['findingId'])}`" for f in opened]
        lines.append("")
    return "\n".join(lines)


def _list(container, key: str) -> list:
    value = container.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def _text(value: str) -> str:
    """Untrusted text for a markdown table cell: one line, no table or code breakers."""
    return " ".join(str(value).split()).replace("|", "\\|").replace("`", "'")[:500]


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        from app import PROJECT_ROOT, build_app

        outdir = PROJECT_ROOT / "cdk.out"
        build_app(outdir=str(outdir)).synth()
        report = json.loads((outdir / "validation-report.json").read_text())
        LEDGER.write_text(render_ledger(entries_from_report(report)), encoding="utf-8")
        print(f"Wrote {LEDGER} ({len(entries_from_report(report))} acknowledged findings)")
        return 0
    if argv[:1] == ["delta"] and len(argv) == 3:
        base_path, head_path = Path(argv[1]), Path(argv[2])
        base = base_path.read_text(encoding="utf-8", errors="replace") if base_path.is_file() else None
        head = head_path.read_text(encoding="utf-8", errors="replace") if head_path.is_file() else None
        print(delta(base, head))
        return 0
    print("usage: python -m policies.ledger write | delta BASE_LEDGER HEAD_REPORT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
