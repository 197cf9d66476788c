"""The acknowledgement ledger: every acknowledged finding, sorted, committed, so that review sees each change.

`policies/ledger.json` is written from CDK's `validation-report.json` (what `cdk synth` writes): one entry per
violating construct with the construct path, the finding id and the reason. The gate fails when the
committed file differs from what synthesis produces (tests/test_ledger.py), so adding, removing or rewording
an acknowledgement shows up as a diff of this file in the pull request.

`python app.py --ledger` (tox -e ledger) rewrites it; `python -m policies.ledger delta BASE_LEDGER HEAD_REPORT`
prints, as markdown for a job summary, what changed between the merge base's committed ledger and the
head's freshly synthesized report: acknowledgements added, removed or reworded, and open findings. Both
inputs are treated as untrusted data: anything malformed is reported in the output, never a crash.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from policies.validation_report import Malformed, ValidationReport

LEDGER = Path(__file__).parent / "ledger.json"
ENTRY_KEYS = ("constructPath", "findingId", "reason")


def entries_from_report(report: ValidationReport) -> list[dict]:
    """The sorted ledger entries of a validation report's acknowledged findings."""
    entries = {(ack.construct_path, ack.finding_id): ack.reason for ack in report.acknowledged}
    return [
        {"constructPath": path, "findingId": finding_id, "reason": reason}
        for (path, finding_id), reason in sorted(entries.items())
    ]


def open_findings_of(report: ValidationReport) -> list[dict]:
    return sorted(
        ({"constructPath": finding.construct_path, "findingId": finding.finding_id} for finding in report.open),
        key=lambda f: (f["constructPath"], f["findingId"]),
    )


def render_ledger(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"


def parse_ledger(text: str) -> list[dict]:
    try:
        entries = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"not JSON ({type(error).__name__})") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and set(e) == set(ENTRY_KEYS) and all(isinstance(e[k], str) for k in ENTRY_KEYS)
        for e in entries
    ):
        raise Malformed(f"not a list of objects with exactly {', '.join(ENTRY_KEYS)} (strings)")
    return entries


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
        head = ValidationReport.parse(head_report) if head_report is not None else None
        if head is None:
            problems.append("the head's validation report is missing (did synthesis run?)")
    except Malformed as error:
        problems.append(f"the head's validation report is malformed: {error}")
    if problems or base is None or head is None:
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


def _text(value: str) -> str:
    """Untrusted text for a markdown table cell: one line, no table or code breakers."""
    return " ".join(str(value).split()).replace("|", "\\|").replace("`", "'")[:500]


def write(report: ValidationReport) -> int:
    """Rewrites policies/ledger.json from a fresh synthesis' report; the number of entries."""
    entries = entries_from_report(report)
    LEDGER.write_text(render_ledger(entries), encoding="utf-8")
    return len(entries)


def main(argv: list[str]) -> int:
    if argv[:1] == ["delta"] and len(argv) == 3:
        base_path, head_path = Path(argv[1]), Path(argv[2])
        base = base_path.read_text(encoding="utf-8", errors="replace") if base_path.is_file() else None
        head = head_path.read_text(encoding="utf-8", errors="replace") if head_path.is_file() else None
        print(delta(base, head))
        return 0
    print(
        "usage: python -m policies.ledger delta BASE_LEDGER HEAD_REPORT (rewrite it with python app.py --ledger)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
