"""The behaviour fixes answer as AWS does where stock moto does not (`make unit` runs this).

Each test runs moto's server on a thread with one fix applied, as the
emulator serves, and fails against stock moto.
"""

from __future__ import annotations

import threading
import time
import unittest

from ..behaviour import atomic_writes, ses_account, transaction_rollback
from .support import Server, pk_sk_table, saved


class Rendezvous:
    """Holds each caller until `n` have come, or until `seconds` after the first came."""

    def __init__(self, n: int, seconds: float) -> None:
        self.n, self.seconds, self.came, self.until = n, seconds, 0, 0.0
        self.changed = threading.Condition()

    def wait(self) -> None:
        with self.changed:
            self.came += 1
            if self.came == 1:
                self.until = time.monotonic() + self.seconds
            self.changed.notify_all()
            while self.came < self.n and time.monotonic() < self.until:
                self.changed.wait(self.until - time.monotonic())


class AtomicWrites(unittest.TestCase):
    """`behaviour.atomic_writes`: of writes racing on one condition, only those it allows win."""

    RACERS = 8

    def setUp(self) -> None:
        from moto.dynamodb.models.table import Table
        from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
        from moto.dynamodb.responses import DynamoHandler

        self.table_class, self.executor_class = Table, UpdateExpressionExecutor
        self.addCleanup(
            saved((DynamoHandler, "call_action"), (Table, "get_item"), (UpdateExpressionExecutor, "execute"))
        )
        atomic_writes.apply()
        self.server = Server()
        self.addCleanup(self.server.stop)
        pk_sk_table(self.server.client("dynamodb"), "race")
        self.rendezvous = Rendezvous(0, 0)

    def hold(self, owner: type, method: str, after: bool) -> None:
        """moto checks a condition microseconds before the write it guards:
        racing requests are held at `method` (after it returns, or before it
        runs) until all have come there, or a second has passed, so the race
        is certain, not just likely. Served one at a time, the first waits the
        second out and the others find it passed."""
        run = getattr(owner, method)

        def held(*args, **kwargs):
            if not after:
                self.rendezvous.wait()
            answer = run(*args, **kwargs)
            if after:
                self.rendezvous.wait()
            return answer

        setattr(owner, method, held)

    def race(self, write) -> list[str]:
        """`write(client, n)` from RACERS threads at once: each one's outcome."""
        clients = [self.server.client("dynamodb") for _ in range(self.RACERS)]
        start = threading.Barrier(self.RACERS)
        outcomes = [""] * self.RACERS
        self.rendezvous = Rendezvous(self.RACERS, 1.0)

        def run(n: int) -> None:
            start.wait()
            try:
                write(clients[n], n)
                outcomes[n] = "won"
            except clients[n].exceptions.ConditionalCheckFailedException:
                outcomes[n] = "lost"
            except clients[n].exceptions.ClientError as e:
                outcomes[n] = e.response["Error"]["Code"]

        threads = [threading.Thread(target=run, args=(n,)) for n in range(self.RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return outcomes

    def test_one_put_claims_the_item(self) -> None:
        key = {"pk": {"S": "invite"}, "sk": {"S": "claim"}}
        # A put checks the item it read.
        self.hold(self.table_class, "get_item", after=True)
        outcomes = self.race(
            lambda ddb, n: ddb.put_item(
                TableName="race", Item={**key, "by": {"N": str(n)}}, ConditionExpression="attribute_not_exists(pk)"
            )
        )
        self.assertEqual(sorted(outcomes), ["lost"] * (self.RACERS - 1) + ["won"])
        item = self.server.client("dynamodb").get_item(TableName="race", Key=key)["Item"]
        self.assertEqual(int(item["by"]["N"]), outcomes.index("won"), "the item is the winner's")

    def test_a_bounded_counter_admits_its_bound(self) -> None:
        key = {"pk": {"S": "invite"}, "sk": {"S": "uses"}}
        self.server.client("dynamodb").put_item(TableName="race", Item={**key, "n": {"N": "0"}})
        # An update checks the item it then changes.
        self.hold(self.executor_class, "execute", after=False)
        outcomes = self.race(
            lambda ddb, n: ddb.update_item(
                TableName="race", Key=key, UpdateExpression="ADD n :one", ConditionExpression="n < :max",
                ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": "3"}},
            )
        )
        self.assertEqual(sorted(outcomes), ["lost"] * (self.RACERS - 3) + ["won"] * 3)
        item = self.server.client("dynamodb").get_item(TableName="race", Key=key)["Item"]
        self.assertEqual(item["n"], {"N": "3"})


class TransactionRollback(unittest.TestCase):
    """`behaviour.transaction_rollback`: a cancelled transaction leaves its items and its stream as they were."""

    def setUp(self) -> None:
        from moto.dynamodb import models

        self.addCleanup(saved((models, "copy"), (models.DynamoDBBackend, "transact_write_items")))
        transaction_rollback.apply()
        self.server = Server()
        self.addCleanup(self.server.stop)
        self.ddb = self.server.client("dynamodb")
        self.streams = self.server.client("dynamodbstreams")
        pk_sk_table(self.ddb, "t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.ddb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "a"}, "n": {"N": "1"}})

    def iterator(self, kind: str) -> str:
        arn = self.ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        return self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]

    def records(self, iterator: str) -> tuple[list[tuple[str, str]], str]:
        r = self.streams.get_records(ShardIterator=iterator)
        return [(x["eventName"], x["dynamodb"]["Keys"]["sk"]["S"]) for x in r["Records"]], r["NextShardIterator"]

    def items(self) -> list[dict]:
        return sorted(self.ddb.scan(TableName="t")["Items"], key=lambda i: i["sk"]["S"])

    def test_a_cancelled_transaction_changes_nothing(self) -> None:
        # A stream reader's iterator, taken before, as a consumer polling the stream holds one.
        reader = self.iterator("LATEST")
        before = self.items()
        with self.assertRaises(self.ddb.exceptions.TransactionCanceledException) as cancelled:
            self.ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "p"}, "sk": {"S": "b"}}}},
                    {"Update": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}},
                                "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
                    {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "missing"}},
                                        "ConditionExpression": "attribute_exists(pk)"}},
                ]
            )
        reasons = [r["Code"] for r in cancelled.exception.response["CancellationReasons"]]
        self.assertEqual(reasons, ["None", "None", "ConditionalCheckFailed"])
        self.assertEqual(self.items(), before)
        seen, reader = self.records(reader)
        self.assertEqual(seen, [], "no stream record of the cancelled writes")
        # The same reader goes on with the writes after it.
        self.ddb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "c"}})
        seen, reader = self.records(reader)
        self.assertEqual(seen, [("INSERT", "c")])
        seen, _ = self.records(self.iterator("TRIM_HORIZON"))
        self.assertEqual(seen, [("INSERT", "a"), ("INSERT", "c")])


class SesAccount(unittest.TestCase):
    """`behaviour.ses_account`: GetAccount answers the quota set; sends are throttled and refused on demand."""

    ROUTE = "/moto-api/static/ses/account"

    def setUp(self) -> None:
        from moto.moto_api._internal import urls as api_urls
        from moto.sesv2 import urls as sesv2_urls
        from moto.sesv2.responses import SESV2Response

        self.addCleanup(saved(
            (SESV2Response, "get_account"), (SESV2Response, "send_email"),
            (sesv2_urls.url_paths, "{0}/v2/email/account$"), (api_urls.url_paths, "{0}/moto-api/static/ses/account"),
        ))
        ses_account.apply(ses_account.SesAccount(14.0, 50000.0))
        self.server = Server()
        self.addCleanup(self.server.stop)
        self.ses = self.server.client("sesv2")
        self.ses.create_email_identity(EmailIdentity="sender@example.com")

    def send(self, to: str) -> str:
        """"sent", or the error code SES answered."""
        try:
            self.ses.send_email(
                FromEmailAddress="sender@example.com", Destination={"ToAddresses": [to]},
                Content={"Simple": {"Subject": {"Data": "Invite"}, "Body": {"Text": {"Data": "Welcome"}}}},
            )
            return "sent"
        except self.ses.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    def test_get_account_answers_the_quota_set(self) -> None:
        quota = self.ses.get_account()["SendQuota"]
        self.assertEqual(quota, {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0})
        self.server.call(self.ROUTE, {"max_send_rate": 3, "max_24_hour_send": 500})
        self.assertEqual(self.send("a@example.com"), "sent")
        quota = self.ses.get_account()["SendQuota"]
        self.assertEqual(quota, {"Max24HourSend": 500.0, "MaxSendRate": 3.0, "SentLast24Hours": 1.0})

    def test_throttle_next_fails_the_next_sends(self) -> None:
        self.server.call(self.ROUTE, {"throttle_next": 2})
        got = [self.send(f"r{n}@example.com") for n in range(3)]
        self.assertEqual(got, ["TooManyRequestsException", "TooManyRequestsException", "sent"])
        account = self.server.call(self.ROUTE)
        self.assertEqual((account["throttled"], account["sent_last_24_hours"]), (2, 1))

    def test_a_rejected_recipient_is_refused(self) -> None:
        self.server.call(self.ROUTE, {"reject": ["Bob@Example.com"]})
        self.assertEqual(self.send("bob@example.com"), "MessageRejected")
        self.assertEqual(self.send("alice@example.com"), "sent")
        self.assertEqual(self.send("bob@example.com"), "MessageRejected", "refused for good")
        self.assertEqual(self.server.call(self.ROUTE)["sent_last_24_hours"], 1)


if __name__ == "__main__":
    unittest.main()
