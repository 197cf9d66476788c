"""The GitHub Actions workflows, checked offline: zizmor, GitHub's workflow schema, and the project's rules."""

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import documentation, PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
GATE_COMMAND = "python3 dev.py"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _triggers(workflow: dict) -> dict:
    return workflow.get("on") or workflow.get(True)  # YAML 1.1 reads a bare `on` key as True


ALL = {path.name: _load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


GATE_SARIF = "cdk.out/gate.sarif"


def test_zizmor_offline_finds_nothing():
    result = subprocess.run([_tool("zizmor"), "--offline", str(WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_validate_against_githubs_schema(schema):
    files = [str(p) for p in sorted(WORKFLOWS.glob("*.yml"))]
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_gate_command_is_what_ci_and_the_gate_workflow_run():
    readme = documentation()
    quickstart = readme[readme.index("## Quickstart") :]
    assert GATE_COMMAND in re.search(r"```sh\n(.*?)```", quickstart, re.S).group(1)
    assert (PROJECT_ROOT / ".ci" / "run").read_text().strip().endswith(GATE_COMMAND)
    runs = [step.get("run", "") for step in ALL["gate.yml"]["jobs"]["gate"]["steps"]]
    assert GATE_COMMAND in runs


def test_every_action_is_pinned_to_a_full_commit_with_its_version_in_a_comment():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            found = re.match(r"\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if not found or found.group(1).startswith(("./", "$/")):
                continue
            assert PINNED.match(found.group(1)), f"{path.name}: {line.strip()}"
            assert re.match(r"\s*#\s*v\d+(\.\d+)*$", found.group(2)), f"{path.name}: no version comment: {line.strip()}"


def test_no_workflow_grants_anything_at_the_top_or_runs_on_pull_request_target():
    for name, workflow in ALL.items():
        assert workflow["permissions"] == {}, name
        assert "pull_request_target" not in _triggers(workflow), name


# Per (workflow, job): the gate's code-scanning job uploads SARIF (actions: read for private repositories,
# codeql-action's upload-sarif README); deploy.yml's call of the gate must grant what the called jobs use.
GRANTS = {
    ("deploy.yml", "deploy"): {"contents": "read", "id-token": "write"},
    ("e2e.yml", "e2e"): {"contents": "read", "id-token": "write"},
    ("deploy.yml", "gate"): {"contents": "read", "security-events": "write", "actions": "read"},
    ("gate.yml", "code-scanning"): {"contents": "read", "security-events": "write", "actions": "read"},
}


def test_every_job_has_a_timeout_and_read_only_contents_beyond_what_it_must_write():
    for name, workflow in ALL.items():
        for job_id, job in workflow["jobs"].items():
            assert job["permissions"] == GRANTS.get((name, job_id), {"contents": "read"}), (name, job_id)
            if "uses" not in job:  # a called workflow: its own jobs carry the timeout
                assert job["timeout-minutes"] > 0, (name, job_id)


def _gate_commands() -> list[str]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(PROJECT_ROOT / "tox.ini")
    return [line.strip() for line in tox["testenv:gate"]["commands"].splitlines() if line.strip()]


def test_the_gate_writes_its_sarif_before_the_tests_so_a_failing_gate_still_uploads():
    commands = _gate_commands()
    [writer] = [i for i, command in enumerate(commands) if f"--sarif {GATE_SARIF}" in command]
    assert commands[writer].startswith("- python app.py "), "its exit code must not stop tox before pytest"
    assert writer < next(i for i, command in enumerate(commands) if command.startswith("pytest"))


def test_only_the_code_scanning_job_holds_security_events_and_it_runs_no_project_code():
    jobs = ALL["gate.yml"]["jobs"]
    scanning = jobs["code-scanning"]
    assert scanning["needs"] == "gate" and "!cancelled()" in scanning["if"]
    uses = [step.get("uses", "") for step in scanning["steps"]]
    assert not any("run" in step for step in scanning["steps"])
    assert any(u.startswith("actions/download-artifact@") for u in uses)
    upload = next(s for s in scanning["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"].endswith(Path(GATE_SARIF).name)
    published = next(s for s in jobs["gate"]["steps"] if s.get("with", {}).get("path") == GATE_SARIF)
    assert published["uses"].startswith("actions/upload-artifact@") and "!cancelled()" in published["if"]


def test_the_vendored_sarif_schema_is_the_one_the_pinned_upload_sarif_carries():
    text = (WORKFLOWS / "gate.yml").read_text()
    version = re.search(r"github/codeql-action/upload-sarif@[0-9a-f]{40} # (v[\d.]+)", text).group(1)
    assert f"github/codeql-action {version}" in (PROJECT_ROOT / "tests" / "test_sarif.py").read_text()
    assert f"`upload-sarif` {version}" in documentation()


def test_id_token_is_granted_only_to_the_deploy_and_e2e_jobs_each_with_its_environment():
    holders = {
        (name, job_id): job.get("environment")
        for name, workflow in ALL.items()
        for job_id, job in workflow["jobs"].items()
        if (job.get("permissions") or {}).get("id-token") == "write"
    }
    assert holders == {("deploy.yml", "deploy"): "production", ("e2e.yml", "e2e"): "e2e-sandbox"}


def test_the_e2e_job_runs_one_at_a_time_and_always_deletes_its_stack():
    [job] = ALL["e2e.yml"]["jobs"].values()
    assert job["concurrency"] == {"group": "e2e-sandbox", "cancel-in-progress": False}
    assert "${{ github.run_id }}" in job["env"]["E2E_STACK_NAME"]
    runs = [step for step in job["steps"] if "run" in step]
    assert [step["run"] for step in runs] == ["python3 dev.py -e e2e", "python3 dev.py -e e2e -- --cleanup"]
    assert runs[-1]["if"] == "always()"


def test_checkout_never_persists_credentials():
    for name, workflow in ALL.items():
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name


def test_gate_runs_on_pull_requests_and_on_every_push_to_main_through_the_deploy_workflow():
    gate, deploy = ALL["gate.yml"], ALL["deploy.yml"]
    assert {"pull_request", "workflow_call"} <= set(_triggers(gate))
    assert _triggers(deploy)["push"] == {"branches": ["main"]} and "workflow_dispatch" in _triggers(deploy)
    assert deploy["jobs"]["gate"]["uses"].endswith(".github/workflows/gate.yml")


def test_the_gate_publishes_the_report_and_the_assembly_it_checked():
    steps = ALL["gate.yml"]["jobs"]["gate"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "cdk.out/policy-report.md" in runs and "$GITHUB_STEP_SUMMARY" in runs
    assert "python -m policies.ledger delta" in runs and "git merge-base" in runs
    uploads = {s["with"]["name"]: s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")}
    assert set(uploads) == {"cdk-out", "gate-sarif"} and uploads["cdk-out"]["with"]["path"] == "cdk.out/"
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"


def test_the_deploy_deploys_exactly_the_checked_assembly_with_oidc_credentials():
    job = ALL["deploy.yml"]["jobs"]["deploy"]
    assert job["needs"] == "gate"
    assert job["concurrency"]["cancel-in-progress"] is False
    steps = job["steps"]
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"name": "cdk-out", "path": "cdk.out"}
    credentials = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    [deploy] = [s["run"] for s in steps if " deploy " in s.get("run", "")]
    assert "--app cdk.out" in deploy and "--require-approval never" in deploy
    [checkout] = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert set(checkout["with"]["sparse-checkout"].split()) == {"cdk_cli", "requirements.txt"}, "the pins, no app"
    assert not any("synth" in s.get("run", "") or "app.py" in s.get("run", "") for s in steps), "no re-synthesis"


def test_no_workflow_mentions_access_keys():
    for path in WORKFLOWS.glob("*.yml"):
        assert "AWS_SECRET_ACCESS_KEY" not in path.read_text() and "aws-access-key-id" not in path.read_text()


def test_codeowners_cover_the_ledger_and_the_policies():
    owners = (PROJECT_ROOT / ".github" / "CODEOWNERS").read_text()
    assert re.search(r"^/policies/ @\S+", owners, re.M) and re.search(r"^/policies/ledger.json @\S+", owners, re.M)
