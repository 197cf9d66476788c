"""The teardown path, run offline: CDK's own two custom-resource handlers, as aws-cdk-lib ships them, driven
with CloudFormation Create and Delete events against moto's S3 over HTTP on 127.0.0.1.

- The BucketDeployment handler (Python) copies this stack's code zip, unextracted, into a versioned bucket
  and returns the object's version id, which the function's Code.S3ObjectVersion reads.
- The S3 auto-delete handler (Node.js) empties the versioned bucket, versions and delete markers, so that
  CloudFormation can delete it.
Their CloudFormation responses are captured by a local HTTP stub. What differs from Lambda, on purpose:
the BucketDeployment handler's `aws` command comes from the AWS CLI layer zip CDK deploys (aws-cdk-lib's
asset-awscli-v1), run from a temporary folder instead of /opt/awscli; the Node.js runtime's AWS SDK comes
from tests/cdk_handlers (npm), and the Node handler's https response is sent to the stub over HTTP.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import aws_cdk
import boto3
import pytest

from aws_cdk import asset_awscli_v1

from localdev.dynamodb import LocalDynamoDB

NODE_SUPPORT = Path(__file__).parent / "cdk_handlers"
HANDLERS = "package/custom-resource-handlers/dist/"
BUCKET_DEPLOYMENT_HANDLER = HANDLERS + "aws-s3-deployment/bucket-deployment-handler/index.py"
AUTO_DELETE_HANDLER = HANDLERS + "aws-s3/auto-delete-objects-handler/index.js"
ASSET_BUCKET = "cdk-hnb659fds-assets-123456789012-us-east-1"


def _jsii_tarball(module) -> Path:
    [tarball] = (Path(next(iter(module.__path__))) / "_jsii").glob("*.jsii.tgz")
    return tarball


class ResponseStub:
    """Plays CloudFormation's pre-signed response URL: records every PUT body."""

    def __init__(self):
        self.responses: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                stub.responses.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the test asserts on the recorded bodies."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, request_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/cloudformation-response/{request_id}"

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def handlers(tmp_path_factory) -> Path:
    """CDK's handler sources and the AWS CLI layer, extracted from the installed aws-cdk-lib packages."""
    folder = tmp_path_factory.mktemp("cdk-handlers")
    with tarfile.open(_jsii_tarball(aws_cdk)) as tar:
        for member in (BUCKET_DEPLOYMENT_HANDLER, AUTO_DELETE_HANDLER):
            tar.extract(member, folder, filter="data")
    with tarfile.open(_jsii_tarball(asset_awscli_v1)) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
    (folder / "layer.zip").write_bytes(layer)
    with zipfile.ZipFile(folder / "layer.zip") as archive:
        archive.extractall(folder / "opt")
    return folder


@pytest.fixture(scope="module")
def s3_server():
    with LocalDynamoDB() as server:  # moto's server dispatches every service, S3 included
        yield server


@pytest.fixture
def stub():
    server = ResponseStub()
    yield server
    server.close()


@pytest.fixture
def s3(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    return boto3.client("s3", endpoint_url=s3_server.endpoint_url)


def _resource(synth, resource_type):
    logical_id, resource = synth.only(resource_type)
    return logical_id, resource["Properties"]


def _event(stub, request_type, logical_id, resource_type, properties, physical_id=None):
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:handler",
        "ResponseURL": stub.url(f"{logical_id}-{request_type}"),
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/ServerlessAutomation/guid",
        "RequestId": f"{logical_id}-{request_type}",
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


def _stack_buckets(s3, synth, tmp_path) -> tuple[str, str]:
    """The artifacts bucket as the template configures it, and CDK's asset bucket holding the code zip."""
    _, bucket = _resource(synth, "AWS::S3::Bucket")
    name = "serverlessautomation-artifactsbucket-test"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=bucket["VersioningConfiguration"])
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": bucket["Tags"]})
    _, deployment = _resource(synth, "Custom::CDKBucketDeployment")
    [source_key] = deployment["SourceObjectKeys"]
    asset_dir = synth.outdir / f"asset.{source_key.removesuffix('.zip')}"
    archive = tmp_path / source_key
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(asset_dir.rglob("*")):
            zipped.write(path, path.relative_to(asset_dir))
    s3.create_bucket(Bucket=ASSET_BUCKET)
    s3.upload_file(str(archive), ASSET_BUCKET, source_key)
    return name, source_key


def _bucket_deployment_module(handlers, monkeypatch):
    """The handler module as shipped; only its `aws` (the CLI layer at /opt/awscli) runs from our folder."""
    spec = importlib.util.spec_from_file_location("cdk_bucket_deployment_handler", handlers / BUCKET_DEPLOYMENT_HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layer = handlers / "opt" / "awscli"
    cli_env = {**os.environ, "PYTHONPATH": str(layer), "AWS_CONFIG_FILE": str(handlers / "aws_cli_config")}
    monkeypatch.setattr(
        module,
        "aws_command",
        lambda *args: subprocess.check_call([sys.executable, str(layer / "aws"), *args], env=cli_env),
    )
    return module


def _run_auto_delete(handlers, stub, event, tmp_path):
    event_file = tmp_path / "auto-delete-event.json"
    event_file.write_text(json.dumps(event))
    env = {
        **os.environ,
        "NODE_PATH": str(NODE_SUPPORT / "node_modules"),
        "CFN_RESPONSE_STUB_PORT": str(stub.port),
    }
    subprocess.run(
        [
            "node",
            "-r",
            str(NODE_SUPPORT / "respond-to-local-stub.js"),
            str(NODE_SUPPORT / "invoke.js"),
            str(handlers / AUTO_DELETE_HANDLER),
            str(event_file),
        ],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_code_copy_and_auto_delete_leave_a_deletable_bucket(synth, handlers, s3, stub, monkeypatch, tmp_path):
    bucket, source_key = _stack_buckets(s3, synth, tmp_path)
    deployment_id, deployment = _resource(synth, "Custom::CDKBucketDeployment")
    properties = {
        **deployment,
        "SourceBucketNames": [ASSET_BUCKET],
        "DestinationBucketName": bucket,
        "DestinationBucketArn": f"arn:aws:s3:::{bucket}",
    }
    # CloudFormation passes every property as a string, booleans included.
    properties = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in properties.items()}
    copy = _bucket_deployment_module(handlers, monkeypatch)
    context = SimpleNamespace(log_stream_name="local-test")

    copy.handler(_event(stub, "Create", deployment_id, "Custom::CDKBucketDeployment", properties), context)
    [created] = stub.responses
    assert created["Status"] == "SUCCESS", created["Reason"]
    key = deployment["DestinationBucketKeyPrefix"] + source_key
    head = s3.head_object(Bucket=bucket, Key=key)
    assert created["Data"]["SourceObjectKeys"] == [source_key]
    assert created["Data"]["SourceObjectVersionIds"] == [head["VersionId"]] and head["VersionId"]
    assert head["ContentLength"] == (tmp_path / source_key).stat().st_size, "copied as the zip, unextracted"

    copy.handler(
        _event(stub, "Delete", deployment_id, "Custom::CDKBucketDeployment", properties, created["PhysicalResourceId"]),
        context,
    )
    assert stub.responses[-1]["Status"] == "SUCCESS"
    s3.delete_object(Bucket=bucket, Key=key)  # a delete marker too, as any overwrite or delete leaves
    assert s3.list_object_versions(Bucket=bucket).get("DeleteMarkers")

    auto_delete_id, auto_delete = _resource(synth, "Custom::S3AutoDeleteObjects")
    event = _event(
        stub, "Delete", auto_delete_id, "Custom::S3AutoDeleteObjects", {**auto_delete, "BucketName": bucket}, bucket
    )
    _run_auto_delete(handlers, stub, event, tmp_path)
    assert stub.responses[-1]["Status"] == "SUCCESS", stub.responses[-1]["Reason"]
    listing = s3.list_object_versions(Bucket=bucket)
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
