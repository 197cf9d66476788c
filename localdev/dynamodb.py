"""A DynamoDB-protocol server on 127.0.0.1: moto's DynamoDB backend served over real HTTP.

Chosen over dynalite (npm): moto is pure Python from PyPI (no native LevelDB build), runs in the same
tox environment, and applies conditional writes atomically (50 racing writers, one winner, checked in
tests/test_handler_concurrency.py). It keeps data in memory only: nothing persists between runs.
"""

from __future__ import annotations

import threading

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

FAKE_REGION = "us-east-1"


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        """The API runner logs its own requests; one line per DynamoDB call would drown them."""


class LocalDynamoDB:
    """Start with start(); endpoint_url is then http://127.0.0.1:<port>.

    moto keeps its data per process, so servers started in one process share tables: give each its own
    table names. Data lives as long as the process.
    """

    def __init__(self, port: int = 0):
        self._requested_port = port
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalDynamoDB":
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", self._requested_port, app, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-dynamodb", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=FAKE_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_table_from_template(self, template: dict, table_name: str) -> str:
        """Creates the template's one DynamoDB table (key schema, attributes, billing) under table_name."""
        [definition] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
        self.client().create_table(
            TableName=table_name,
            KeySchema=definition["KeySchema"],
            AttributeDefinitions=definition["AttributeDefinitions"],
            BillingMode=definition["BillingMode"],
        )
        return table_name

    def __enter__(self) -> "LocalDynamoDB":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
