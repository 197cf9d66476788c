"""The e2e run's orchestration: it always destroys (after a failure or Ctrl-C too), fails on anything left
behind, and refuses a real account it cannot use before deploying. Offline against moto's server; the runs
marked stand_in go against MiniStack (`python3 dev.py -e stand-in`)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3.session
import pytest

from conftest import PROJECT_ROOT
from e2e.__main__ import estimated_cost, run


class Deployer:
    """A deployer that records what it was asked to do, and raises what the test gives it."""

    def __init__(self, raises: BaseException | None = None):
        self.raises = raises
        self.calls: list[str] = []

    def deploy(self, assembly, stack_name):
        self.calls.append("deploy")
        if self.raises:
            raise self.raises
        return {}

    def destroy(self, stack_name):
        self.calls.append("destroy")
        return "DELETE_COMPLETE"


@pytest.fixture
def session(monkeypatch, aws_stand_in):
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_stand_in)
    return boto3.session.Session(region_name="us-east-1")


def _run(session, deployer, lines, name="Probe-e2e-000001"):
    return run(
        session,
        deployer,
        stack_name=name,
        stand_in=True,
        base_url=lambda outputs: "http://127.0.0.1:9/",
        log=lines.append,
        synthesizer=lambda stack_name, outdir: outdir,
    )


def test_a_failed_deploy_is_still_destroyed_and_fails_the_run(session):
    lines, deployer = [], Deployer(RuntimeError("CREATE_FAILED: ItemsTable"))
    assert _run(session, deployer, lines) == 1
    assert deployer.calls == ["deploy", "destroy"]
    assert any("FAIL deploy and check: RuntimeError: CREATE_FAILED: ItemsTable" in line for line in lines)


def test_ctrl_c_destroys_what_was_deployed(session):
    lines, deployer = [], Deployer(KeyboardInterrupt())
    assert _run(session, deployer, lines) == 130
    assert deployer.calls == ["deploy", "destroy"]
    assert "Interrupted: destroying what was deployed" in lines


def test_anything_the_stack_named_that_outlives_destroy_fails_the_run(session):
    session.client("logs").create_log_group(logGroupName="Probe-e2e-000002-FunctionLogGroup-abc")
    lines = []
    assert _run(session, Deployer(RuntimeError("stop after deploy")), lines, name="Probe-e2e-000002") == 1
    assert any(line.startswith("left behind: ") and "log group Probe-e2e-000002-FunctionLogGroup-abc" in line for line in lines)


def test_the_cost_line_names_time_requests_and_an_estimate():
    line = estimated_cost(40, 600)
    assert line.startswith("cost: 600 s; about $0.") and "40 API requests" in line


def test_a_real_account_that_cannot_be_reached_is_refused_before_anything_is_synthesized():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "e2e"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={
            "PATH": os.environ["PATH"],
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "example",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}",
            "AWS_CONFIG_FILE": "/nonexistent",
        },
    )
    assert result.returncode == 1 and "Synthesiz" not in result.stdout
    assert result.stderr.splitlines() == [
        f"error: cannot reach AWS STS at http://127.0.0.1:{closed}: check the network, a proxy (HTTPS_PROXY) or "
        "AWS_ENDPOINT_URL, and that us-east-1 is a region you use"
    ]


@pytest.mark.stand_in
def test_a_retained_log_group_on_the_stand_in_fails_the_run(tmp_path):
    """The teardown defect the inventory exists for: a log group that outlives `cdk destroy`."""
    from e2e.__main__ import _stand_in_url
    from e2e.standin import MiniStack, StandInDeployer

    def retain_a_log_group(template):
        group = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup")
        group["DeletionPolicy"] = "Retain"

    with MiniStack(os.environ["E2E_MINISTACK"], tmp_path / "ministack.log") as ministack:
        os.environ.update(ministack.credentials())
        session = boto3.session.Session()
        lines: list[str] = []
        code = run(
            session,
            StandInDeployer(session, alter_template=retain_a_log_group),
            stack_name="Defect-e2e-000003",
            stand_in=True,
            base_url=lambda outputs: _stand_in_url(ministack.endpoint, outputs["ApiUrl"]),
            log=lines.append,
        )
    assert code == 1
    [left] = [line for line in lines if line.startswith("left behind: ")]
    assert "log group " in left and "Defect-e2e-000003" in left and "LogGroup" in left, left


def test_the_deploying_page_lists_every_stand_in_gap_with_what_it_leaves_unproven():
    from e2e.standin import GAPS

    page = (PROJECT_ROOT / "docs" / "deploying.md").read_text()
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")) for line in page.splitlines() if line.startswith("| ")}
    assert {(gap.what, gap.unproven) for gap in GAPS} <= rows


def test_an_account_that_runs_the_production_stack_is_refused(session):
    from deploying.preflight import Refusal
    from e2e.__main__ import refuse_a_shared_account

    cloudformation = session.client("cloudformation")
    refuse_a_shared_account(session, production="Production-probe")  # absent: allowed
    cloudformation.create_stack(
        StackName="Production-probe",
        TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}',
    )
    with pytest.raises(Refusal, match=r"^this account and region run Production-probe: .* run e2e in a sandbox account$"):
        refuse_a_shared_account(session, production="Production-probe")
