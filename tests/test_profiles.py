"""Compliance profiles (-c compliance=...): each synthesizes offline, every finding is fixed or acknowledged
with the mission's reason, no acknowledgement is stale, and the report carries the compliance matrix."""

import configparser
import json
import platform
import subprocess
import sys
import tarfile

import pytest

from config import COMPLIANCE_PROFILES
from conftest import PROJECT_ROOT
from policies.profiles import GUARD_RULES_IN_WHEEL, PROFILES, control_tower_controls, guard_bundle
from policies.validation_report import ValidationReport

EVERY_PROFILE = ",".join(COMPLIANCE_PROFILES)
GUARD_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def _report(outdir, *context: str):
    """`python app.py --report` with the given context, as `-e compliance` runs it: the exit code counts."""
    arguments = [item for pair in context for item in ("-c", pair)]
    result = subprocess.run(
        [sys.executable, "app.py", "--report", "-o", str(outdir), *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    return result, ValidationReport.read(outdir / "validation-report.json"), (outdir / "policy-report.md").read_text()


@pytest.fixture(scope="module")
def every_profile(tmp_path_factory):
    return _report(tmp_path_factory.mktemp("compliance"), f"compliance={EVERY_PROFILE}")


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
        "ServerlessAutomation/ArtifactsBucket/Resource",
    ) in acknowledged


def test_the_matrix_lists_each_control_tower_control_that_applies_with_its_status(every_profile):
    _, _, markdown = every_profile
    matrix = markdown[markdown.index("## Compliance matrix"):]
    assert "| CT.S3.PR.10 " in matrix and "| ✅ acknowledged | `ServerlessAutomation/ArtifactsBucket/Resource`: The mission" in matrix
    assert _row(matrix, "CT.CLOUDWATCH.PR.1").endswith("| pass | |")
    assert "| CT.EC2." not in matrix, "a control for a resource type the stack does not have does not apply"
    for profile in PROFILES.values():
        assert f"### {profile.name}: " in matrix


def test_a_year_of_log_retention_meets_ct_cloudwatch_pr_2_and_drops_its_acknowledgement(every_profile, tmp_path):
    _, _, thirty_days = every_profile
    assert "✅ acknowledged" in _row(thirty_days, "CT.CLOUDWATCH.PR.2")
    result, report, markdown = _report(tmp_path, "compliance=control-tower", "log_retention_days=365")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _row(markdown, "CT.CLOUDWATCH.PR.2").endswith("| pass | |")
    assert not report.open


def test_the_default_synthesis_runs_no_profile(synth):
    assert not {plugin.name for plugin in synth.report.plugins} & {p.plugin_name for p in PROFILES.values()}


def test_the_profiles_are_exactly_the_settings_values_and_the_compliance_environment_runs_them_all():
    assert tuple(PROFILES) == COMPLIANCE_PROFILES
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(PROJECT_ROOT / "tox.ini")
    assert f"-c compliance={EVERY_PROFILE}" in tox["testenv:compliance"]["commands"]


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
    assert not lambda_permission_rule({"Resources": {"Permission": {**template["Resources"]["Permission"], "Properties": with_account}}})
    resolved = {**properties, "SourceArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/items"}
    assert lambda_permission_rule({"AWS::Lambda::Permission": {"resourceProperties": resolved}})
