"""Local mode serves every function the template wires: the grown stack's audit function (tests/growth.py) runs
from its table's stream on the local DynamoDB when an item is written through the local API, and what local mode
cannot run is named."""

import json
import time

import pytest
from growth import GrownSynthesis

from localdev.api import LocalApi
from localdev.streams import LocalStreams
from localdev.template import read_api, read_stream_consumers, unserved_functions

# What a team writes as lambda/audit.py: one audit item per stream record.
AUDIT_HANDLER = """
import os
import boto3

client = boto3.client("dynamodb")


def handler(event, context):
    for record in event["Records"]:
        client.put_item(
            TableName=os.environ["AUDIT_TABLE_NAME"],
            Item={
                "id": {"S": record["eventID"]},
                "change": {"S": record["eventName"]},
                "item": record["dynamodb"]["Keys"]["id"],
                "source": {"S": record["eventSourceARN"]},
            },
        )
"""
FAILING_HANDLER = """
def handler(event, context):
    raise RuntimeError("the audit store refused the write")
"""


def serve_grown(tmp_path, local_dynamodb, handler_source: str, prefix: str):
    grown = GrownSynthesis(tmp_path)
    assert not grown.refused
    template = json.loads((tmp_path / "ServerlessAutomation.template.json").read_text())
    tables = local_dynamodb.create_tables_from_template(template, prefix)
    api = read_api(template, tmp_path, tables)
    consumers = read_stream_consumers(template, tmp_path, tables)
    for consumer in consumers:
        (consumer.function.code_dir / "audit.py").write_text(handler_source)
    lines: list[str] = []
    local = LocalApi(api, local_dynamodb.endpoint_url, port=0, log=lines.append, credentials=None)
    streams = LocalStreams(consumers, local_dynamodb, tables, local.runtime_environment, lines.append)
    return grown, tables, consumers, local.start(), streams.start(), lines


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def post(url: str, body: dict) -> int:
    import urllib.request

    request = urllib.request.Request(
        url + "items", data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_a_write_through_the_api_runs_the_stream_fed_function(tmp_path, local_dynamodb):
    grown, tables, consumers, local, streams, _ = serve_grown(tmp_path, local_dynamodb, AUDIT_HANDLER, "stream")
    try:
        assert [c.function.logical_id for c in consumers] == [grown.logical_id(grown.stack.audit_function)]
        assert post(local.url, {"id": "audited", "owner": "ana"}) == 201
        audit_table = tables[grown.logical_id(grown.stack.audit_table)]
        client = local_dynamodb.client()
        assert wait_for(lambda: client.scan(TableName=audit_table)["Count"] == 1)
        [entry] = client.scan(TableName=audit_table)["Items"]
        assert entry["change"] == {"S": "INSERT"} and entry["item"] == {"S": "audited"}
        assert entry["source"]["S"].startswith("arn:aws:dynamodb:")
    finally:
        streams.stop()
        local.stop()


def test_a_failing_batch_is_retried_as_configured_then_given_up_on_naming_the_destination(tmp_path, local_dynamodb):
    grown, _, [consumer], local, streams, lines = serve_grown(tmp_path, local_dynamodb, FAILING_HANDLER, "failing")
    try:
        assert post(local.url, {"id": "refused"}) == 201
        assert wait_for(lambda: any("gave up" in line for line in lines))
        attempts = [line for line in lines if "failed: RuntimeError: the audit store refused the write" in line]
        assert len(attempts) == consumer.retries + 1
        [gave_up] = [line for line in lines if "gave up" in line]
        assert grown.logical_id(grown.stack.node.find_child("AuditFailures")) in gave_up
    finally:
        streams.stop()
        local.stop()


def test_what_local_mode_cannot_run_is_named_with_what_feeds_it(tmp_path):
    grown = GrownSynthesis(tmp_path)
    template = json.loads((tmp_path / "ServerlessAutomation.template.json").read_text())
    items, audit = grown.logical_id(grown.stack.function), grown.logical_id(grown.stack.audit_function)
    assert unserved_functions(template, {items, audit}) == {}
    assert unserved_functions(template, {items}) == {audit: "AWS::DynamoDB::Table"}
    assert unserved_functions(template, set()) == {
        items: "invocations by apigateway.amazonaws.com",
        audit: "AWS::DynamoDB::Table",
    }


@pytest.mark.parametrize("retries", [0, 2])
def test_the_consumer_reads_the_mappings_batch_size_and_retries(tmp_path, retries):
    grown = GrownSynthesis(tmp_path)
    template = json.loads((tmp_path / "ServerlessAutomation.template.json").read_text())
    mapping_id = grown.logical_id(grown.stack.node.find_child("AuditStream"))
    template["Resources"][mapping_id]["Properties"]["MaximumRetryAttempts"] = retries
    tables = {table_id: table_id for table_id in grown.template.of_type("AWS::DynamoDB::Table")}
    [consumer] = read_stream_consumers(template, tmp_path, tables)
    assert (consumer.batch_size, consumer.retries, consumer.starting_position) == (100, retries, "TRIM_HORIZON")


def test_a_stream_consumer_whose_handler_does_not_import_is_named_not_waited_on_forever(tmp_path, local_dynamodb, monkeypatch):
    import localdev.api

    monkeypatch.setattr(localdev.api, "WORKER_START_SECONDS", 5)
    grown = GrownSynthesis(tmp_path)
    template = json.loads((tmp_path / "ServerlessAutomation.template.json").read_text())
    tables = local_dynamodb.create_tables_from_template(template, "broken")
    consumers = read_stream_consumers(template, tmp_path, tables)
    for consumer in consumers:
        (consumer.function.code_dir / "audit.py").write_text("raise ImportError('a missing dependency')\n")
    streams = LocalStreams(consumers, local_dynamodb, tables, {}, print)
    try:
        with pytest.raises(RuntimeError, match=r"no worker started in 5 s; does its handler import\?"):
            streams.start()
    finally:
        streams.stop()
    assert grown.logical_id(grown.stack.audit_function)
