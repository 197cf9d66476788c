"""The deploy commands' checks before any synthesis: one line for each way a deploy cannot start, tried
against local endpoints only (moto's STS and SSM over HTTP, a server that refuses every signature, a closed
port), never AWS."""

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from conftest import PROJECT_ROOT
from deploying.preflight import BOOTSTRAP_VERSION_PARAMETER, Refusal, check

STS_REFUSAL = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>
<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>
</Error><RequestId>local</RequestId></ErrorResponse>"""


@pytest.fixture
def environment(monkeypatch, aws_stand_in):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_stand_in)
    return monkeypatch


def _bootstrap(endpoint: str, present: bool) -> None:
    import boto3

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    if present:
        ssm.put_parameter(Name=BOOTSTRAP_VERSION_PARAMETER, Value="30", Type="String", Overwrite=True)
    else:
        try:
            ssm.delete_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
        except ssm.exceptions.ParameterNotFound:
            pass


def test_a_bootstrapped_account_passes_and_names_the_account_and_region(environment, aws_stand_in):
    _bootstrap(aws_stand_in, present=True)
    assert check("deploy", [], interactive=False) == "123456789012 in us-east-1"


@pytest.mark.parametrize("command", ["diff", "deploy"])
def test_an_account_not_bootstrapped_is_told_to_bootstrap(environment, aws_stand_in, command):
    _bootstrap(aws_stand_in, present=False)
    with pytest.raises(Refusal, match=r"not bootstrapped for CDK: run python3 dev.py -e bootstrap once"):
        check(command, [], interactive=False)
    assert check("bootstrap", [], interactive=False)


def test_aws_region_alone_is_a_region_as_the_cdk_cli_reads_it(environment, aws_stand_in):
    """botocore reads AWS_DEFAULT_REGION only; the CDK CLI (the AWS SDK for JavaScript) reads AWS_REGION."""
    _bootstrap(aws_stand_in, present=True)
    environment.delenv("AWS_DEFAULT_REGION", raising=False)
    environment.setenv("AWS_REGION", "us-east-1")
    assert check("deploy", [], interactive=False).endswith(" in us-east-1")


def test_no_region(environment):
    environment.delenv("AWS_REGION", raising=False)
    environment.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(Refusal, match=r"^no AWS region: set AWS_REGION"):
        check("deploy", [], interactive=False)


def test_no_credentials(environment):
    environment.delenv("AWS_ACCESS_KEY_ID")
    environment.delenv("AWS_SECRET_ACCESS_KEY")
    environment.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(Refusal, match=r"^no AWS credentials: sign in"):
        check("deploy", [], interactive=False)


def test_credentials_refused(environment):
    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(STS_REFUSAL)))
            self.end_headers()
            self.wfile.write(STS_REFUSAL)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environment.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(Refusal, match=r"^AWS refused these credentials \(InvalidClientTokenId\)"):
            check("deploy", [], interactive=False)
    finally:
        server.shutdown()


def test_endpoint_unreachable(environment):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    environment.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    with pytest.raises(Refusal, match=rf"^cannot reach AWS STS at http://127.0.0.1:{closed}"):
        check("deploy", [], interactive=False)


@pytest.mark.parametrize("arguments, interactive, refused", [([], False, True), (["--force"], False, False), ([], True, False)])
def test_destroy_without_a_terminal_says_how_to_confirm(environment, aws_stand_in, arguments, interactive, refused):
    if refused:
        with pytest.raises(Refusal, match=r"run python3 dev.py -e destroy -- --force$"):
            check("destroy", arguments, interactive=interactive)
    else:
        assert check("destroy", arguments, interactive=interactive)


def test_the_command_line_prints_one_line_and_no_traceback(aws_stand_in):
    result = subprocess.run(
        [sys.executable, "-m", "deploying.preflight", "destroy"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": aws_stand_in},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: cdk destroy asks for confirmation and there is no terminal to answer it: run python3 dev.py -e destroy -- --force"]


def test_every_deploy_environment_runs_the_checks_before_the_cli():
    import configparser

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(PROJECT_ROOT / "tox.ini")
    for command in ("bootstrap", "diff", "deploy", "destroy"):
        lines = [line.strip() for line in tox[f"testenv:{command}"]["commands"].strip().splitlines()]
        assert lines == [f"python -m deploying.preflight {command} {{posargs}}", f"{{[cdk]cli}} {command} {{posargs}}"]


def test_a_profile_that_does_not_exist_is_named(environment):
    environment.setenv("AWS_PROFILE", "prodd")
    with pytest.raises(Refusal, match=r"^AWS profile prodd is not in your AWS config: check AWS_PROFILE or --profile"):
        check("deploy", [], interactive=False)


def test_the_clis_own_profile_option_is_the_one_checked(environment):
    with pytest.raises(Refusal, match=r"^AWS profile staging is not in your AWS config"):
        check("deploy", ["--profile", "staging"], interactive=False)
    with pytest.raises(Refusal, match=r"^AWS profile staging is not in your AWS config"):
        check("diff", ["--profile=staging"], interactive=False)


def test_an_expired_sso_login_says_how_to_sign_in(environment, tmp_path):
    config = tmp_path / "config"
    config.write_text(
        "[profile team]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = us-east-1\n"
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"
    )
    environment.setenv("AWS_CONFIG_FILE", str(config))
    environment.delenv("AWS_ACCESS_KEY_ID")
    environment.delenv("AWS_SECRET_ACCESS_KEY")
    environment.setenv("HOME", str(tmp_path))  # no cached SSO token
    with pytest.raises(Refusal, match=r"^your AWS SSO login has expired or is missing \(\w+\): run aws sso login --profile team$"):
        check("deploy", ["--profile", "team"], interactive=False)
