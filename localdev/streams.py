"""The template's DynamoDB stream consumers run locally: each event source mapping polls its table's stream on
the local DynamoDB and invokes its function with the records, as Lambda's poller does.

What Lambda does and this does too: batches of at most BatchSize records in stream order, the record shape
of a DynamoDB stream event (with eventSourceARN), a failed batch retried whole up to MaximumRetryAttempts
times, then given up on. What it does not: the on-failure destination receives nothing locally (the log line
names it), batches are not bisected, and records are polled every POLL_SECONDS rather than pushed.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from localdev.api import function_workers, invoke, trace_header, wait_for_workers
from localdev.template import StreamConsumer

POLL_SECONDS = 0.2
# A template that passed the gate bounds retries (SA-DATA4); one that did not is retried this often locally.
UNBOUNDED_RETRIES_LOCALLY = 3


class LocalStreams:
    """One polling thread and one worker process per stream consumer."""

    def __init__(
        self, consumers: list[StreamConsumer], dynamodb, table_names: dict[str, str], runtime_environment, log
    ):
        self.consumers = consumers
        self._dynamodb = dynamodb
        self._table_names = table_names
        self._log = log
        self._stopped = threading.Event()
        self._pools = {c.mapping_id: function_workers(c.function, runtime_environment, 1) for c in consumers}
        self._threads = [
            threading.Thread(target=self._poll, args=(consumer,), name=f"stream-{consumer.mapping_id}", daemon=True)
            for consumer in consumers
        ]

    def start(self) -> LocalStreams:
        for mapping_id, pool in self._pools.items():
            wait_for_workers(pool, mapping_id)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for pool in self._pools.values():  # first, so that an invocation in flight ends with its worker
            pool.terminate()
            pool.join()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def _poll(self, consumer: StreamConsumer) -> None:
        try:
            self._read(consumer)
        except Exception as error:  # said, never silent: the banner lists this consumer
            if not self._stopped.is_set():
                self._log(f"STREAM {consumer.mapping_id}: stopped reading the stream: {type(error).__name__}: {error}")

    def _read(self, consumer: StreamConsumer) -> None:
        table = self._table_names[consumer.table_id]
        stream_arn = self._dynamodb.client().describe_table(TableName=table)["Table"]["LatestStreamArn"]
        streams = self._dynamodb.client("dynamodbstreams")
        iterators: dict[str, str | None] = {}
        position = "TRIM_HORIZON" if consumer.starting_position == "TRIM_HORIZON" else "LATEST"
        while not self._stopped.is_set():
            for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                if shard["ShardId"] not in iterators:
                    iterators[shard["ShardId"]] = streams.get_shard_iterator(
                        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position
                    )["ShardIterator"]
            for shard_id, iterator in list(iterators.items()):
                if iterator is None:
                    continue
                answer = streams.get_records(ShardIterator=iterator, Limit=consumer.batch_size)
                iterators[shard_id] = answer.get("NextShardIterator")
                if answer["Records"]:
                    self._deliver(consumer, [_lambda_record(record, stream_arn) for record in answer["Records"]])
            self._stopped.wait(POLL_SECONDS)

    def _deliver(self, consumer: StreamConsumer, records: list[dict]) -> None:
        retries = consumer.retries if consumer.retries >= 0 else UNBOUNDED_RETRIES_LOCALLY
        name = f"{consumer.mapping_id} -> {consumer.function.logical_id}"
        for attempt in range(retries + 1):
            if self._stopped.is_set():
                return
            started = time.monotonic()
            outcome, result = self._pools[consumer.mapping_id].apply(invoke, ({"Records": records}, trace_header()))
            elapsed = (time.monotonic() - started) * 1000
            if outcome == "ok":
                self._log(f"STREAM {name}: {len(records)} records, ok ({elapsed:.0f} ms)")
                return
            self._log(f"STREAM {name}: {len(records)} records, attempt {attempt + 1} failed: {result}")
        where = consumer.failure_destination or "nowhere (the mapping has no on-failure destination)"
        self._log(f"STREAM {name}: gave up on {len(records)} records; deployed, Lambda sends them to {where}")


def _lambda_record(record: dict, stream_arn: str) -> dict:
    """A record as Lambda passes it: the stream's record with its source ARN, and times in epoch seconds."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}
