"""Shared fixtures: one synthesis of the real app per session (with CDK's built-in validation on)."""

import json
import os
import sys
from functools import cache
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

# Nothing in the tests may reach AWS: fake credentials and a fixed region, whoever runs pytest.
for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[name] = value

from aws_cdk.assertions import Template  # noqa: E402

from app import STACK_ID, build_app  # noqa: E402


class Synthesis:
    """A synthesized app: its cloud assembly directory, the stack's template, and the validation report."""

    def __init__(self, context: dict, outdir: Path, builtin_validation: bool):
        self.app = build_app(context, outdir=str(outdir), builtin_cloud_formation_validation=builtin_validation)
        self.assembly = self.app.synth()
        self.outdir = outdir
        stack = self.assembly.get_stack_artifact(STACK_ID)
        self.template_path = Path(self.assembly.directory) / stack.template_file
        self.template_json = json.loads(self.template_path.read_text())
        self.template = Template.from_json(self.template_json)
        report = outdir / "validation-report.json"
        self.report = json.loads(report.read_text()) if report.exists() else {"pluginReports": []}

    @property
    def resources(self) -> dict:
        return self.template_json["Resources"]

    def resources_of_type(self, resource_type: str) -> dict:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict]:
        found = self.resources_of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synthesis:
    """The app exactly as cdk.json configures it, synthesized once, with CDK's template validation on."""
    return Synthesis({}, tmp_path_factory.mktemp("cdk.out"), builtin_validation=True)


@pytest.fixture(scope="session")
def synth_with(tmp_path_factory):
    """Synthesize the app with context overrides (as `-c key=value` would); cached per distinct context."""

    @cache
    def build(**context) -> Synthesis:
        return Synthesis(context, tmp_path_factory.mktemp("cdk.out-variant"), builtin_validation=False)

    return build
