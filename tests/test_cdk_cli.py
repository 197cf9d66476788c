"""The pinned CDK CLI (cdk_cli/package-lock.json) on the project's Node.js synthesizes, offline, exactly the
template `python app.py` does, and the deploy workflow, tox and the README use that one pin."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from app import STACK_ID
from conftest import documentation, PROJECT_ROOT

CLI_PACKAGE = PROJECT_ROOT / "cdk_cli"
CLI = CLI_PACKAGE / "node_modules" / "aws-cdk" / "bin" / "cdk"


def pinned_cli_version() -> str:
    return json.loads((CLI_PACKAGE / "package.json").read_text())["devDependencies"]["aws-cdk"]


def test_the_pin_is_an_exact_2_x_release_and_the_lock_file_holds_it():
    version = pinned_cli_version()
    assert re.fullmatch(r"2\.\d+\.\d+", version), "an exact 2.x release (npm's aws-cdk@3.0.0 is deprecated)"
    lock = json.loads((CLI_PACKAGE / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version


def test_the_cli_synthesizes_offline_exactly_what_app_py_synthesizes(synth, tmp_path):
    assert CLI.exists(), "run `npm ci --prefix cdk_cli` (the gate's tox environment does)"
    node = shutil.which("node")
    assert node and Path(node).resolve().is_relative_to(Path(sys.prefix).resolve()), "the project's Node.js"
    result = subprocess.run(
        [node, str(CLI), "synth", "--app", f"{sys.executable} app.py", "--output", str(tmp_path), "--quiet"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "notice" not in result.stderr.lower() and "telemetry" not in result.stderr.lower(), result.stderr
    cli_template = json.loads((tmp_path / f"{STACK_ID}.template.json").read_text())
    assert cli_template == synth.template_json


def test_the_deploy_workflow_installs_the_cli_from_the_lock_file():
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    steps = workflow["jobs"]["deploy"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "npm ci --prefix cdk_cli" in runs and "cdk_cli/node_modules/aws-cdk/bin/cdk deploy --app cdk.out" in runs
    assert "aws-cdk@" not in (PROJECT_ROOT / ".github" / "workflows" / "deploy.yml").read_text()


def test_the_readme_deploys_with_dev_py_and_names_no_other_cli():
    readme = documentation()
    assert "npx aws-cdk" not in readme and "npx cdk" not in readme
    for command in ("bootstrap", "diff", "deploy", "destroy"):
        assert f"python3 dev.py -e {command}" in readme
