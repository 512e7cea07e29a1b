"""Local stand-in for Lambda's SQS and DynamoDB stream event source mappings.

Long-polls a queue, hands each batch to a function through the cargo-lambda
runtime emulator's Invoke API (the same API real Lambda exposes), and deletes a
message only after the invoke succeeded and the function did not report it in
`batchItemFailures` (ReportBatchItemFailures). Failed messages stay on the queue;
after maxReceiveCount receives SQS moves them to the dead-letter queue, as in AWS.

The one deliberate difference: a failed message is made visible again after a
short back-off instead of the queue's full visibility timeout (90 minutes for
imports), so that local retries happen while you watch.

A stream is read shard by shard from its start, one batch per shard at a
time; a failed batch is handed over again until the function takes it (AWS
gives up after MaximumRetryAttempts and records the batch on failure).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3

log = logging.getLogger("relay")


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def invoke(invoke_url: str, payload: dict, timeout: float) -> tuple[bool, dict | None]:
    """Returns (succeeded, parsed response)."""
    req = urllib.request.Request(
        invoke_url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            if resp.headers.get("X-Amz-Function-Error"):
                log.warning("function error: %s", body[:500])
                return False, None
            try:
                return True, json.loads(body) if body else None
            except json.JSONDecodeError:
                return True, None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        log.warning("invoke failed: %s", e)
        return False, None


class Poller:
    """What both relays share: poll until stopped, through emulator restarts."""

    stop: threading.Event
    source: str
    invoke_url: str
    # Seconds to wait after a poll that found nothing (an SQS poll long-polls itself).
    idle_wait: float = 0.0

    def poll_once(self) -> int:
        raise NotImplementedError

    def run(self) -> None:
        log.info("relaying %s -> %s", self.source, self.invoke_url)
        while not self.stop.is_set():
            try:
                if not self.poll_once():
                    self.stop.wait(self.idle_wait)
            except Exception as e:  # keep relaying through emulator restarts
                if self.stop.is_set():
                    break
                log.warning("relay error (%s): %s", self.source, e)
                self.stop.wait(1)


class Relay(Poller):
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        queue_url: str,
        invoke_url: str,
        batch_size: int = 1,
        invoke_timeout: float = 900.0,
        retry_after: int = 5,
        function_sets_visibility: bool = False,
    ):
        self.sqs = boto3.session.Session(region_name=region).client("sqs", endpoint_url=endpoint_url)
        self.region = region
        self.queue_url = queue_url
        self.invoke_url = invoke_url
        self.batch_size = batch_size
        self.invoke_timeout = invoke_timeout
        self.retry_after = retry_after
        # A function that puts its failed messages back with their own delay
        # (ChangeMessageVisibility) keeps it, as Lambda's poller leaves it.
        self.function_sets_visibility = function_sets_visibility
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.stop = threading.Event()
        self.source = queue_url
        self.answered_at = 0.0

    def poll_once(self, wait_seconds: int = 5) -> int:
        """One receive + invoke + delete round; returns how many messages were received."""
        receive = dict(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        if self.function_sets_visibility:
            # A message whose delay the function could not set (its receipt went
            # stale: the message had been received again) comes back one
            # invocation later, not after the queue's six minutes: locally,
            # retries happen while you watch.
            receive["VisibilityTimeout"] = int(self.invoke_timeout)
        messages = self.sqs.receive_message(**receive).get("Messages", [])
        if not messages:
            return 0
        ok, response = invoke(self.invoke_url, sqs_event(messages, self.queue_arn, self.region), self.invoke_timeout)
        # When the function last answered (time.monotonic()): `make bench` times imports by it.
        self.answered_at = time.monotonic()
        failed: set[str] = set()
        if not ok:
            failed = {m["MessageId"] for m in messages}
        elif isinstance(response, dict):
            failed = {f.get("itemIdentifier") for f in response.get("batchItemFailures") or []}
        done = []
        for m in messages:
            if m["MessageId"] not in failed:
                done.append({"Id": str(len(done)), "ReceiptHandle": m["ReceiptHandle"]})
            elif ok and self.function_sets_visibility:
                log.info("message %s failed; the function set when it comes back", m["MessageId"])
            else:
                log.info("message %s failed; visible again in %ss", m["MessageId"], self.retry_after)
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=self.retry_after
                )
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=done)
            log.info("%d message(s) delivered", len(done))
        return len(messages)



def stream_event(records: list[dict], shard_id: str, stream_arn: str, region: str, window: int) -> dict:
    """A DynamoDB stream batch as Lambda hands it over with a tumbling window
    (the window's properties are what name the shard)."""
    now = time.time()
    start = now - now % window

    def iso(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    out = []
    for r in records:
        body = dict(r["dynamodb"])
        created = body.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            body["ApproximateCreationDateTime"] = created.timestamp()
        out.append({**r, "dynamodb": body, "eventSourceARN": stream_arn, "awsRegion": region})
    return {
        "Records": out,
        "shardId": shard_id,
        "eventSourceARN": stream_arn,
        "window": {"start": iso(start), "end": iso(start + window)},
        "state": {},
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }


class StreamRelay(Poller):
    """Local stand-in for Lambda's DynamoDB stream event source mapping: reads
    each shard from its start (TRIM_HORIZON), hands over one batch per shard at
    a time, in order, and moves on only once the function succeeded; a failed
    batch is handed over again, as Lambda retries it."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        table_name: str,
        invoke_url: str,
        batch_size: int = 100,
        invoke_timeout: float = 900.0,
        window: int = 60,
        retry_after: float = 2.0,
    ):
        session = boto3.session.Session(region_name=region)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint_url)
        self.stream_arn = session.client("dynamodb", endpoint_url=endpoint_url).describe_table(TableName=table_name)[
            "Table"
        ]["LatestStreamArn"]
        self.region = region
        self.invoke_url = invoke_url
        # moto hands out at most 1,000 records per GetRecords, as DynamoDB does.
        self.batch_size = min(batch_size, 1000)
        self.invoke_timeout = invoke_timeout
        self.window = max(window, 1)
        self.retry_after = retry_after
        self.stop = threading.Event()
        self.source = f"stream of {table_name}"
        self.idle_wait = 0.5
        self.iterators: dict[str, str] = {}
        self.finished: set[str] = set()

    def poll_once(self) -> int:
        """One GetRecords (and invoke) per shard; returns how many records were handed over."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self.iterators and shard["ShardId"] not in self.finished:
                self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        handed = 0
        for shard_id, iterator in list(self.iterators.items()):
            out = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = out.get("Records", [])
            if records and not self.deliver(stream_event(records, shard_id, self.stream_arn, self.region, self.window)):
                return handed  # stopping: the batch stays where it was
            handed += len(records)
            following = out.get("NextShardIterator")
            if following:
                self.iterators[shard_id] = following
            else:
                # A closed shard, read to its end: its child shards carry on.
                del self.iterators[shard_id]
                self.finished.add(shard_id)
        return handed

    def deliver(self, event: dict) -> bool:
        """Hands the batch over until the function takes it; False if stopped first."""
        n = len(event["Records"])
        while not self.stop.is_set():
            ok, _ = invoke(self.invoke_url, event, self.invoke_timeout)
            if ok:
                log.info("%d stream record(s) delivered", n)
                return True
            log.info("stream batch of %d failed; handed over again in %ss", n, self.retry_after)
            self.stop.wait(self.retry_after)
        return False



class ScheduleRelay(Poller):
    """Local stand-in for an EventBridge schedule (`rate(...)`): invokes the
    function with a Scheduled Event every `every` seconds."""

    def __init__(self, region: str, invoke_url: str, every: float, rule: str, invoke_timeout: float = 900.0):
        self.region = region
        self.invoke_url = invoke_url
        self.every = every
        self.rule = rule
        self.invoke_timeout = invoke_timeout
        self.stop = threading.Event()
        self.source = f"schedule {rule} (every {every:g} s)"
        self.idle_wait = every

    def poll_once(self) -> int:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": now,
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:123456789012:rule/{self.rule}"],
            "detail": {},
        }
        ok, _ = invoke(self.invoke_url, event, self.invoke_timeout)
        if not ok:
            log.info("scheduled invocation of %s failed", self.rule)
        return 0


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` in seconds; None for a cron() expression."""
    m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not m:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
    return int(m.group(1)) * unit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--queue-url", required=True)
    p.add_argument("--invoke-url", required=True)
    p.add_argument("--batch-size", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(message)s")
    Relay(args.endpoint_url, args.region, args.queue_url, args.invoke_url, args.batch_size).run()


if __name__ == "__main__":
    main()
