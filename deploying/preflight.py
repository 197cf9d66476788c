"""What `python3 dev.py -e bootstrap|diff|deploy|destroy` checks before the CDK CLI synthesizes anything.

Without these checks every problem looks the same: the CLI synthesizes for most of a minute, then prints
"Unable to resolve AWS account to use" whatever the cause. Each check here ends in one line naming the cause
and the fix, in this order: a region, credentials, credentials AWS accepts (STS GetCallerIdentity, which needs
no permission), then, for a diff or a deploy, the account and region bootstrapped for CDK (its SSM parameter
/cdk-bootstrap/hnb659fds/version, what the CLI reads; "Bootstrapping your AWS environment", AWS CDK developer
guide). `destroy` without a terminal cannot answer the CLI's confirmation prompt ("TTY is not attached").

Run as `python -m deploying.preflight <command> [the CLI's arguments]`; exit 0 lets tox go on to the CLI.
"""

from __future__ import annotations

import os
import sys

import boto3.session
import botocore.exceptions
from botocore.config import Config

BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
# A refused or unreachable endpoint answers within seconds; a deploy should not wait a minute to say so.
QUICK = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
COMMANDS = ("bootstrap", "diff", "deploy", "destroy")


class Refusal(Exception):
    """One line for a person: what is wrong and what to run."""


def check(command: str, arguments: list[str], *, interactive: bool) -> str:
    """The account and region the command will use; Refusal when it cannot run."""
    if command == "destroy" and not interactive and not {"--force", "-f"} & set(arguments):
        raise Refusal(
            "cdk destroy asks for confirmation and there is no terminal to answer it: "
            "run python3 dev.py -e destroy -- --force"
        )
    profile = _option(arguments, "--profile") or os.environ.get("AWS_PROFILE")
    try:
        session = cli_session(profile, _option(arguments, "--region"))
    except botocore.exceptions.ProfileNotFound:
        raise Refusal(
            f"AWS profile {profile} is not in your AWS config: check AWS_PROFILE or --profile "
            "(aws configure list-profiles lists them)"
        ) from None
    region = session.region_name
    if not region:
        raise Refusal(
            "no AWS region: set AWS_REGION (or a region in your AWS profile), for example export AWS_REGION=eu-west-1"
        )
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as error:
        raise _credentials_problem(error, profile) from None
    if credentials is None:
        raise Refusal(
            "no AWS credentials: sign in (aws sso login --profile NAME, then export AWS_PROFILE=NAME) or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    sts = session.client("sts", region_name=region, config=QUICK)
    try:
        account = sts.get_caller_identity()["Account"]
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        raise Refusal(
            f"AWS refused these credentials ({code}): they are wrong or expired; sign in again or export fresh ones"
        ) from None
    except botocore.exceptions.NoCredentialsError:
        raise Refusal("no AWS credentials: sign in or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as error:
        # Unreachable, timed out, or refused by a proxy or TLS.
        endpoint = str(error.kwargs.get("endpoint_url", sts.meta.endpoint_url)).rstrip("/")
        raise Refusal(
            f"cannot reach AWS STS at {endpoint}: check the network, a proxy (HTTPS_PROXY) or AWS_ENDPOINT_URL, "
            f"and that {region} is a region you use"
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise _credentials_problem(error, profile) from None
    if command in ("diff", "deploy") and not _bootstrapped(session, region):
        raise Refusal(
            f"account {account} in {region} is not bootstrapped for CDK: run python3 dev.py -e bootstrap once, "
            "then deploy again"
        )
    return f"{account} in {region}"


def _option(arguments: list[str], name: str) -> str | None:
    """The value of a CDK CLI option (`--profile prod` or `--profile=prod`), as the CLI will use it."""
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def _credentials_problem(error: Exception, profile: str | None) -> Refusal:
    """An expired SSO login, or credentials that cannot be loaded, in one line."""
    sign_in = f"aws sso login --profile {profile}" if profile else "aws sso login --profile NAME"
    if "sso" in type(error).__name__.lower() or "token" in type(error).__name__.lower():
        return Refusal(f"your AWS SSO login has expired or is missing ({type(error).__name__}): run {sign_in}")
    return Refusal(f"AWS credentials could not be loaded ({type(error).__name__}: {error}): sign in again ({sign_in})")


def cli_session(profile: str | None = None, region: str | None = None) -> boto3.session.Session:
    """A session in the account and region the CDK CLI will use: the region given, else AWS_REGION (which the
    CLI reads and botocore does not), else botocore's own (AWS_DEFAULT_REGION, the profile)."""
    return boto3.session.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION"))


def _bootstrapped(session, region: str) -> bool:
    """False only when the bootstrap parameter is known to be missing (a principal that may not read SSM gets
    the CLI's own, later message instead)."""
    ssm = session.client("ssm", region_name=region, config=QUICK)
    try:
        ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
    except botocore.exceptions.ClientError as error:
        return error.response.get("Error", {}).get("Code") != "ParameterNotFound"
    except botocore.exceptions.BotoCoreError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m deploying.preflight {{{','.join(COMMANDS)}}} [cdk arguments]", file=sys.stderr)
        return 2
    try:
        target = check(argv[0], argv[1:], interactive=sys.stdin.isatty())
    except Refusal as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    print(f"cdk {argv[0]}: {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
