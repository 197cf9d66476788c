"""The gate's SARIF: valid SARIF 2.1.0 (the schema GitHub's upload-sarif action carries, vendored from
github/codeql-action v4.36.2), each finding at the source line that made its construct, acknowledged findings
suppressed with their reasons, and cfn-lint's matches among them."""

import copy
import json
import re
import platform
import subprocess
from pathlib import Path

import pytest

from app import STACK_ID
from policies.review import write_sarif
from conftest import documentation, PROJECT_ROOT
from conftest import SARIF_VALIDATOR as VALIDATOR
from policies.acknowledgements import NO_BUCKET_ACCESS_LOGS
from policies.sarif import SourceLocator, cfn_lint_findings, report_findings, sarif_log
from policies.validation_report import ValidationReport

SARIF_TESTS = PROJECT_ROOT / "tests" / "sarif"
# `npm ci --prefix tests/sarif` (tox's gate) installs the Multitool's build for this machine.
MULTITOOL = (
    SARIF_TESTS / "node_modules" / "@microsoft" / f"sarif-multitool-{platform.system().lower()}" / "Sarif.Multitool"
)
MAIN_LINES = (PROJECT_ROOT / "main.py").read_text().splitlines()


def _line_of(text: str) -> int:
    """Found by plain text search, independently of the locator's ast walk."""
    return 1 + next(number for number, line in enumerate(MAIN_LINES) if line.strip() == text)


@pytest.fixture(scope="module")
def gate_sarif(synth, tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("sarif") / "gate.sarif"
    write_sarif(target, synth.app.node.find_child(STACK_ID), synth.report, Path(synth.assembly.directory), PROJECT_ROOT)
    return json.loads(target.read_text())


def _results(log: dict) -> list[dict]:
    return log["runs"][0]["results"]


def test_the_gate_sarif_is_valid_sarif_2_1_0(gate_sarif):
    assert not [error.message for error in VALIDATOR.iter_errors(gate_sarif)]
    assert gate_sarif["version"] == "2.1.0" and len(gate_sarif["runs"]) == 1


@pytest.mark.parametrize(
    ("place", "value"),
    [(("results", 0, "level"), "fatal"), (("tool", "driver", "rules", 0, "helpUri"), "the pack (rules: https://x)")],
    ids=["level", "helpUri"],
)
def test_the_schema_check_rejects_what_sarif_does_not_allow(gate_sarif, place, value):
    broken = copy.deepcopy(gate_sarif)
    container = broken["runs"][0]
    for key in place[:-1]:
        container = container[key]
    container[place[-1]] = value
    assert list(VALIDATOR.iter_errors(broken))


def _multitool(log_file: Path, tmp_path: Path) -> list[dict]:
    """Microsoft's SARIF Multitool: the spec's validation rules and GitHub's ingestion rules (GH…)."""
    assert MULTITOOL.is_file(), "run `npm ci --prefix tests/sarif` (the gate's tox environment does)"
    output = tmp_path / "validation.sarif"
    result = subprocess.run(
        [
            str(MULTITOOL),
            "validate",
            str(log_file),
            "-o",
            str(output),
            "--log",
            "ForceOverwrite",
            "--rule-kind",
            "Sarif;Gh",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(output.read_text())["runs"][0].get("results", [])


def test_githubs_ingestion_rules_and_the_specs_find_nothing_in_the_gate_sarif(gate_sarif, tmp_path):
    log_file = tmp_path / "gate.sarif"
    log_file.write_text(json.dumps(gate_sarif))
    problems = [r for r in _multitool(log_file, tmp_path) if r.get("level", "warning") in ("error", "warning")]
    assert not [(r["ruleId"], r["message"].get("text", "")[:200]) for r in problems]


def test_the_multitool_reports_a_log_github_would_reject(gate_sarif, tmp_path):
    broken = copy.deepcopy(gate_sarif)
    del broken["runs"][0]["tool"]["driver"]["rules"][0]["fullDescription"]
    log_file = tmp_path / "broken.sarif"
    log_file.write_text(json.dumps(broken))
    assert "GH2012" in {r["ruleId"] for r in _multitool(log_file, tmp_path)}


def test_an_acknowledged_finding_is_at_its_construct_ids_line_and_suppressed_with_its_reason(gate_sarif):
    result = next(r for r in _results(gate_sarif) if r["ruleId"] == "AwsSolutions::AwsSolutions-S1")
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "main.py"},
        "region": {"startLine": _line_of('"ArtifactsBucket",')},
    }
    assert result["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": NO_BUCKET_ACCESS_LOGS}
    ]


def test_every_acknowledged_finding_is_one_suppressed_result_at_its_constructs_line(gate_sarif, synth):
    results = _results(gate_sarif)
    suppressed = sorted(
        (
            r["ruleId"],
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            r["suppressions"][0]["justification"],
        )
        for r in results
        if "suppressions" in r
    )
    assert suppressed == sorted((a.finding_id, a.construct_path, a.reason) for a in synth.report.acknowledged)
    rules = [rule["id"] for rule in gate_sarif["runs"][0]["tool"]["driver"]["rules"]]
    stack_line = _line_of("class ServerlessBackendStack(Stack):")
    for result in results:
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "main.py"
        line = location["physicalLocation"]["region"]["startLine"]
        path = location["logicalLocations"][0]["fullyQualifiedName"]
        if line == stack_line:  # only CDK's singletons, which no line of main.py names
            assert path.split("/")[1].startswith("Custom::"), path
        else:
            assert f'"{_first_named_id(path)}"' in MAIN_LINES[line - 1], (path, line)
        assert rules[result["ruleIndex"]] == result["ruleId"]


def _first_named_id(path: str) -> str:
    return next(part for part in reversed(path.split("/")) if f'"{part}"' in "\n".join(MAIN_LINES))


def test_an_open_finding_is_an_unsuppressed_error_at_its_construct():
    report = ValidationReport.from_json(
        {
            "pluginReports": [
                {
                    "pluginName": "AwsSolutions",
                    "conclusion": "failure",
                    "violations": [
                        {
                            "ruleName": "AwsSolutions-DDB3",
                            "description": "The DynamoDB table does not have Point-in-time Recovery enabled.",
                            "severity": "error",
                            "violatingConstructs": [{"constructPath": f"{STACK_ID}/ItemsTable/Resource"}],
                        }
                    ],
                }
            ]
        }
    )
    log = sarif_log(report_findings(report), SourceLocator(PROJECT_ROOT, "main.py"), "test")
    assert not list(VALIDATOR.iter_errors(log))
    [result] = _results(log)
    assert result["level"] == "error" and "suppressions" not in result
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of('self.table = self._build_table("ItemsTable")')


def test_cdks_own_singletons_point_at_the_stack_class():
    locator = SourceLocator(PROJECT_ROOT, "main.py")
    assert locator.locate(f"{STACK_ID}/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C/Resource") == (
        "main.py",
        _line_of("class ServerlessBackendStack(Stack):"),
    )


def test_a_cfn_lint_match_is_a_finding_at_the_construct_that_made_the_resource(tmp_path):
    template = tmp_path / "Broken.template.json"
    template.write_text(
        json.dumps(
            {
                "Resources": {
                    "ItemsTable5AAC2C46": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "FREE"}}
                }
            }
        )
    )
    findings = cfn_lint_findings([template], {"ItemsTable5AAC2C46": f"{STACK_ID}/ItemsTable/Resource"}, PROJECT_ROOT)
    assert findings and {f.construct_path for f in findings} == {f"{STACK_ID}/ItemsTable/Resource"}
    assert all(f.rule_id.startswith("cfn-lint::E") and f.level == "error" for f in findings)
    log = sarif_log(findings, SourceLocator(PROJECT_ROOT, "main.py"), "test")
    assert not list(VALIDATOR.iter_errors(log))
    assert _results(log)[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of('self.table = self._build_table("ItemsTable")')


def test_the_readmes_annotated_finding_is_where_the_gate_puts_it(gate_sarif):
    """The example names the line by what is on it, so a line added above the bucket changes nothing here."""
    readme = documentation()
    example = readme[readme.index('{"ruleId": "AwsSolutions::AwsSolutions-S1"') :]
    example = example[: example.index("```")]
    result = next(r for r in _results(gate_sarif) if r["ruleId"] == "AwsSolutions::AwsSolutions-S1")
    [shown] = re.findall(r'"startLine": <the line of `([^`]+)`>', example)
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == _line_of(shown)
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] in example


def test_a_lookup_by_id_is_not_where_a_construct_is_made():
    """main.py looks the bucket's auto-delete resource up with find_child("AutoDeleteObjectsCustomResource");
    the construct that made it is the bucket, on the bucket's id line."""
    locator = SourceLocator(PROJECT_ROOT, "main.py")
    path = f"{STACK_ID}/ArtifactsBucket/AutoDeleteObjectsCustomResource/Default"
    assert locator.locate(path) == ("main.py", _line_of('"ArtifactsBucket",'))
    assert locator.locate(f"{STACK_ID}/ItemsApi/Endpoint") == ("main.py", _line_of('"ItemsApi",'))


def test_each_finding_on_each_construct_is_its_own_alert(gate_sarif):
    """Code scanning merges results with one rule and one fingerprint: CDK's singletons share the stack
    class's line, so the fingerprint is the rule and the construct path, not the line."""
    fingerprints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in _results(gate_sarif)]
    assert len(set(fingerprints)) == len(fingerprints)


def test_a_cfn_lint_rule_is_described_by_cfn_lint_not_by_one_of_its_matches(tmp_path):
    template = tmp_path / "Broken.template.json"
    template.write_text(
        json.dumps(
            {
                "Resources": {
                    "TableA": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "FREE"}},
                    "TableB": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "FREE"}},
                }
            }
        )
    )
    log = sarif_log(cfn_lint_findings([template], {}, PROJECT_ROOT), SourceLocator(PROJECT_ROOT, "main.py"), "t")
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert "TableA" not in rule["fullDescription"]["text"] and "TableB" not in rule["fullDescription"]["text"]
    assert {"TableA", "TableB"} <= {word for r in _results(log) for word in r["message"]["text"].split("/")}


def test_cfn_lint_needs_templates_to_read():
    with pytest.raises(ValueError, match="no templates"):
        cfn_lint_findings([], {}, PROJECT_ROOT)
