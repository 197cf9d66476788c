"""The committed acknowledgement ledger matches synthesis, and the pull-request delta is right and robust."""

import copy
import json

import pytest

from policies.ledger import LEDGER, delta, entries_from_report, parse_ledger, render_ledger
from policies.validation_report import ValidationReport


def test_the_committed_ledger_is_what_synthesis_acknowledges(synth):
    expected = render_ledger(entries_from_report(synth.report))
    assert LEDGER.read_text(encoding="utf-8") == expected, (
        "policies/ledger.json is stale: run `python3 dev.py -e ledger` and commit it"
    )


def test_the_ledger_is_sorted_and_one_entry_per_construct_and_finding():
    entries = parse_ledger(LEDGER.read_text(encoding="utf-8"))
    keys = [(e["constructPath"], e["findingId"]) for e in entries]
    assert keys == sorted(set(keys)) and len(entries) > 10


def _acknowledge(report: dict, path: str, finding_id: str, reason: str) -> dict:
    changed = copy.deepcopy(report)
    changed["pluginReports"][0]["suppressedViolations"].append(
        {
            "ruleName": "X",
            "acknowledgedId": finding_id,
            "reason": reason,
            "acknowledgedAt": path,
            "violatingConstructs": [{"constructPath": path}],
            "description": "",
            "severity": "error",
        }
    )
    return changed


def test_an_added_acknowledgement_makes_the_ledger_stale_and_shows_in_the_delta(synth):
    head = _acknowledge(
        synth.report_json, "ServerlessAutomation/ItemsTable/Resource", "AwsSolutions::AwsSolutions-DDB3", "because"
    )
    assert render_ledger(entries_from_report(ValidationReport.from_json(head))) != LEDGER.read_text(encoding="utf-8")
    summary = delta(LEDGER.read_text(encoding="utf-8"), json.dumps(head))
    assert "### Added (1)" in summary and "AwsSolutions-DDB3" in summary and "because" in summary
    assert "Removed" not in summary and "Reworded" not in summary


def test_a_reworded_acknowledgement_shows_old_and_new_reason(synth):
    head = copy.deepcopy(synth.report_json)
    suppressed = next(s for p in head["pluginReports"] for s in p.get("suppressedViolations", []))
    old_reason, suppressed["reason"] = suppressed["reason"], "a new reason"
    assert render_ledger(entries_from_report(ValidationReport.from_json(head))) != LEDGER.read_text(encoding="utf-8")
    summary = delta(LEDGER.read_text(encoding="utf-8"), json.dumps(head))
    assert "### Reworded" in summary and "a new reason" in summary and old_reason[:30] in summary


def test_a_removed_acknowledgement_and_a_new_open_finding_show(synth):
    head = copy.deepcopy(synth.report_json)
    plugin = next(p for p in head["pluginReports"] if p.get("suppressedViolations"))
    dropped = plugin["suppressedViolations"].pop(0)
    plugin.setdefault("violations", []).append(
        {k: dropped[k] for k in ("ruleName", "violatingConstructs", "description", "severity")}
    )
    summary = delta(LEDGER.read_text(encoding="utf-8"), json.dumps(head))
    assert "### Removed (1)" in summary and "### Open findings (1)" in summary


def test_no_change_says_so(synth):
    summary = delta(LEDGER.read_text(encoding="utf-8"), json.dumps(synth.report_json))
    assert "No acknowledgement added, removed or reworded; no open finding." in summary


def test_the_first_pull_request_without_a_base_ledger_lists_everything_as_added(synth):
    summary = delta(None, json.dumps(synth.report_json))
    assert f"### Added ({len(entries_from_report(synth.report))})" in summary


@pytest.mark.parametrize(
    "base, head, complaint",
    [
        ("not json", None, "merge base's ledger is malformed"),
        ('[{"constructPath": 1}]', None, "merge base's ledger is malformed"),
        ("[]", '{"pluginReports": "nope"}', "head's validation report is malformed"),
        (
            "[]",
            '{"pluginReports": [{"suppressedViolations": [{"reason": "x"}]}]}',
            "head's validation report is malformed",
        ),
        ("[]", None, "head's validation report is missing"),
    ],
    ids=["base-not-json", "base-wrong-shape", "head-wrong-type", "head-missing-keys", "head-missing"],
)
def test_malformed_inputs_are_reported_not_raised(base, head, complaint):
    summary = delta(base, head)
    assert complaint in summary and summary.startswith("## Acknowledgement changes")


def test_untrusted_text_cannot_break_the_summary_table(synth):
    head = _acknowledge(synth.report_json, "A|B`\n# injected", "X::Y", "reason | with `code`\n## heading")
    summary = delta("[]", json.dumps(head))
    assert "\n# injected" not in summary and "\n## heading" not in summary and "A\\|B'" in summary


def test_rewording_an_acknowledgement_in_the_code_without_the_ledger_fails(tmp_path, monkeypatch):
    """The real path: policies/acknowledgements.py changes, synthesis reports it, the committed ledger no longer matches."""
    from dataclasses import replace

    from app import build_app
    from policies import acknowledgements

    original = acknowledgements.acknowledgements
    monkeypatch.setattr(
        acknowledgements,
        "acknowledgements",
        lambda stack, config: [
            replace(a, reason=a.reason + " Reworded.") if i == 0 else a for i, a in enumerate(original(stack, config))
        ],
    )
    build_app(outdir=str(tmp_path), builtin_cloud_formation_validation=False).synth()
    report_text = (tmp_path / "validation-report.json").read_text()
    assert render_ledger(entries_from_report(ValidationReport.parse(report_text))) != LEDGER.read_text(encoding="utf-8")
    assert "### Reworded (1)" in delta(LEDGER.read_text(encoding="utf-8"), report_text)
