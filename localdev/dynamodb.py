"""A DynamoDB-protocol server on 127.0.0.1: moto's DynamoDB backend served over real HTTP.

Chosen over dynalite (npm): moto is pure Python from PyPI (no native LevelDB build), runs in the same
tox environment, and applies conditional writes atomically (50 racing writers, one winner, checked in
tests/test_handler_concurrency.py). It keeps data in memory only: nothing persists between runs.
"""

from __future__ import annotations

import logging

import boto3
from moto.server import ThreadedMotoServer

FAKE_REGION = "us-east-1"
# What create_table takes from an AWS::DynamoDB::Table's properties (the rest, tags included, changes
# nothing the function can observe locally); a stream is created too, for the functions it feeds.
_TABLE_SHAPE = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


class LocalDynamoDB:
    """moto's ThreadedMotoServer on 127.0.0.1: start() it, then endpoint_url is http://127.0.0.1:<port>.

    moto keeps its data per process, so servers started in one process share tables: give each its own
    table names. Data lives as long as the process.
    """

    def __init__(self, port: int = 0):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> LocalDynamoDB:
        # The API runner logs its own requests; werkzeug's line per DynamoDB call would drown them.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def port(self) -> int:
        return self._server.get_host_and_port()[1]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "dynamodb"):
        """A client of this server: DynamoDB, or "dynamodbstreams" for the tables' streams."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=FAKE_REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def create_tables_from_template(self, template: dict, prefix: str) -> dict[str, str]:
        """Every AWS::DynamoDB::Table of the template, with its keys and indexes, named <prefix>-<logical id>.

        Returns logical id -> local table name, which the function's environment references resolve to.
        """
        names = {}
        for logical_id, resource in sorted(template["Resources"].items()):
            if resource["Type"] == "AWS::DynamoDB::Table":
                names[logical_id] = self._create(resource["Properties"], f"{prefix}-{logical_id}")
        return names

    def _create(self, definition: dict, table_name: str) -> str:
        shape = {key: definition[key] for key in _TABLE_SHAPE if key in definition}
        if "StreamSpecification" in definition:
            shape["StreamSpecification"] = {"StreamEnabled": True, **definition["StreamSpecification"]}
        self.client().create_table(TableName=table_name, BillingMode="PAY_PER_REQUEST", **shape)
        return table_name

    def __enter__(self) -> LocalDynamoDB:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
