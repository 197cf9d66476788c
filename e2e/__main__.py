"""`python3 dev.py -e e2e`: deploy a throwaway copy of the checked stack, check it from outside, destroy it,
and show that nothing is left.

With AWS credentials it runs against your account: the deploy checks first (deploying/preflight.py), then the
pinned CDK CLI deploys the assembly as `<stack_name>-e2e-<random>` (the tags unchanged), and destroys it
whatever happens, after a failure or Ctrl-C too. Without credentials, or with --stand-in, the same run goes
against MiniStack on 127.0.0.1 (e2e/standin.py lists what that leaves unproven). Exit 0 only when every check
passed and nothing but the documented account-level items is left.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3.session

from deploying.preflight import Refusal, check, cli_session
from e2e.checks import ACCOUNT_LEVEL, Api, Result, api_checks, residue, visibility_checks
from e2e.standin import GAPS, MiniStack, StandInDeployer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK = ["node", str(PROJECT_ROOT / "cdk_cli" / "node_modules" / "aws-cdk" / "bin" / "cdk")]
# Rough USD prices of what one run uses (AWS pricing pages, us-east-1, on-demand): per request or per month.
PRICES = {
    "API Gateway REST request": 3.5e-6,
    "Lambda request (and about 100 ms at 256 MB)": 2e-7 + 0.1 * 0.25 * 1.33e-5,
    "DynamoDB on-demand write": 6.25e-7,
    "CloudWatch alarm-month": 0.10,
}


class CdkCliDeployer:
    """A real account: the pinned CDK CLI deploys and destroys the synthesized assembly."""

    def __init__(self, workdir: Path):
        self._outputs = workdir / "outputs.json"
        self._assembly: Path | None = None

    def deploy(self, assembly: Path, stack_name: str) -> dict[str, str]:
        self._assembly = assembly
        subprocess.run(
            [
                *CDK,
                "deploy",
                "--app",
                str(assembly),
                "--all",
                "--require-approval",
                "never",
                "--outputs-file",
                str(self._outputs),
            ],
            check=True,
        )
        return json.loads(self._outputs.read_text())[stack_name]

    def destroy(self, stack_name: str) -> str:
        if self._assembly is None:
            return "DELETE_COMPLETE"
        result = subprocess.run([*CDK, "destroy", "--app", str(self._assembly), "--all", "--force"])
        return "DELETE_COMPLETE" if result.returncode == 0 else "DELETE_FAILED"


def estimated_cost(requests: int, seconds: float) -> str:
    """The run's time and a rough estimate of its AWS charges: every request through all three services, and
    the stack's alarm for the run's duration."""
    per_request = sum(price for name, price in PRICES.items() if "month" not in name)
    alarm = PRICES["CloudWatch alarm-month"] * seconds / (730 * 3600)
    return (
        f"cost: {seconds:.0f} s; about ${requests * per_request + alarm:.4f} in AWS charges "
        f"({requests} API requests, the alarm for {seconds / 60:.0f} minutes)"
    )


def synthesize(stack_name: str, outdir: Path) -> Path:
    """The gate's synthesis (every rule and pack), as the throwaway stack's name."""
    subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py"), "-o", str(outdir), "-c", f"stack_name={stack_name}"], check=True
    )
    return outdir


def run(session, deployer, *, stack_name: str, stand_in: bool, base_url, log=print, synthesizer=None) -> int:
    """Deploy, check, always destroy, then take the inventory; the exit code. `synthesizer(stack_name, outdir)`
    makes the assembly (app.py's synthesis unless given)."""
    started = time.monotonic()
    results: list[Result] = []
    physical: dict[str, str] = {}
    api = None
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="e2e-cdk.out-") as workdir:
        try:
            assembly = (synthesizer or synthesize)(stack_name, Path(workdir) / "assembly")
            log(f"Deploying {stack_name} …")
            outputs = deployer.deploy(assembly, stack_name)
            deployed = time.monotonic()
            physical = {
                r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for r in session.client("cloudformation").describe_stack_resources(StackName=stack_name)[
                    "StackResources"
                ]
            }
            api = Api(base_url(outputs), session, session.region_name)
            results += api_checks(api, validators=not stand_in)
            if not stand_in:
                results += visibility_checks(session, stack_name, api)
            log(f"Checked in {time.monotonic() - deployed:.0f} s")
        except KeyboardInterrupt:
            interrupted = True
            log("Interrupted: destroying what was deployed")
        except Exception as error:  # the stack is destroyed and the inventory taken all the same
            results.append(Result("deploy and check", False, f"{type(error).__name__}: {error}"))
        finally:
            status = deployer.destroy(stack_name)
            left = residue(session, stack_name, physical, tagging=not stand_in)
    elapsed = time.monotonic() - started
    for result in results:
        log(f"{'ok  ' if result.ok else 'FAIL'} {result.name}{'' if result.ok else ': ' + result.detail}")
    log(f"destroy: {status}")
    log("left behind: " + ("nothing of the stack" if not left else "; ".join(left)))
    log("left on purpose (account-level): " + "; ".join(ACCOUNT_LEVEL))
    if stand_in:
        log("on the stand-in, unproven: " + "; ".join(gap.unproven for gap in GAPS))
    else:
        log(estimated_cost(api.requests if api else 0, elapsed))
    if interrupted:
        return 130
    return 0 if results and all(r.ok for r in results) and status == "DELETE_COMPLETE" and not left else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e", description=__doc__)
    parser.add_argument("--stand-in", action="store_true", help="run against MiniStack even with credentials")
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="only delete the stack E2E_STACK_NAME names, if it exists (CI's last step)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stopped CI job still destroys
    # CI names the stack after its run, so that an always-run step can delete it even if this process was killed.
    stack_name = os.environ.get("E2E_STACK_NAME") or f"ServerlessAutomation-e2e-{secrets.token_hex(3)}"
    if args.cleanup:
        return cleanup(cli_session(), stack_name)
    stand_in = args.stand_in or boto3.session.Session().get_credentials() is None
    if not stand_in:
        try:
            print(f"cdk deploy: {check('deploy', [], interactive=sys.stdin.isatty())}", flush=True)
            refuse_a_shared_account(cli_session())
        except Refusal as refusal:
            print(f"error: {refusal}", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as workdir:
            return run(
                cli_session(),
                CdkCliDeployer(Path(workdir)),
                stack_name=stack_name,
                stand_in=False,
                base_url=lambda outputs: outputs["ApiUrl"],
            )
    executable = os.environ.get("E2E_MINISTACK", "ministack")
    with tempfile.TemporaryDirectory() as logs, MiniStack(executable, Path(logs) / "ministack.log") as ministack:
        os.environ.update(ministack.credentials())
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        print(f"No AWS account: running against the stand-in at {ministack.endpoint}", flush=True)
        return run(
            boto3.session.Session(),
            StandInDeployer(boto3.session.Session()),
            stack_name=stack_name,
            stand_in=True,
            base_url=lambda outputs: _stand_in_url(ministack.endpoint, outputs["ApiUrl"]),
        )


def refuse_a_shared_account(session, production: str = "ServerlessAutomation") -> None:
    """The copy sets API Gateway's account-level CloudWatch role, as every copy does; destroying it would leave
    that setting on a deleted role, and the production stack's execution logs would stop. So never beside it."""
    cloudformation = session.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=production)["Stacks"]
    except cloudformation.exceptions.ClientError:
        return
    if any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks):
        raise Refusal(
            f"this account and region run {production}: an e2e copy shares API Gateway's account-level CloudWatch "
            "role setting with it, and destroying the copy would stop its execution logs; run e2e in a sandbox account"
        )


def cleanup(session, stack_name: str) -> int:
    """Delete the stack if it is there, and wait: what a killed run could not do itself."""
    cloudformation = session.client("cloudformation")
    cloudformation.delete_stack(StackName=stack_name)  # deleting a stack that does not exist succeeds
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name)
    except Exception as error:  # the waiter's failure names the stack's status
        print(f"error: {stack_name} was not deleted: {error}", file=sys.stderr)
        return 1
    print(f"{stack_name}: deleted (or never deployed)")
    return 0


def _stand_in_url(endpoint: str, api_url: str) -> str:
    """The stage URL as MiniStack serves it (the path form of its execute-api addressing)."""
    api_id = api_url.split("//", 1)[1].split(".", 1)[0]
    stage = api_url.rstrip("/").rsplit("/", 1)[1]
    return f"{endpoint}/_aws/execute-api/{api_id}/{stage}"


if __name__ == "__main__":
    sys.exit(main())
