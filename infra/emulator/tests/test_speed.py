"""The speed fixes answer as stock moto does (`make unit` runs this).

Each read, write and stream read is made twice on the same tables, through
moto's model serializer and through `speed.item_answers`, and a client must
parse the same answer; requests, queues, routing, query pages and conditional
writes likewise.
"""

from __future__ import annotations

import os
import unittest

import boto3
from moto import mock_aws
from moto.core.responses import ActionResult

from ..speed import (
    condition_parsing,
    index_pages,
    item_answers,
    partition_queries,
    request_parsing,
    routing,
    sqs_sends,
    update_expressions,
)
from .support import pk_sk_table, saved

STOCK = ActionResult.execute_result


def item(i: int) -> dict:
    return {
        "pk": {"S": "p"},
        "sk": {"S": f"K{i:04}"},
        "n": {"N": str(i)},
        "flag": {"BOOL": i % 2 == 0},
        "none": {"NULL": True},
        "tags": {"SS": ["a", f"t{i}"]},
        "nums": {"NS": ["1", "2.5"]},
        "list": {"L": [{"S": "x"}, {"N": "3"}, {"M": {"deep": {"S": "é \" \\ \u2028"}}}]},
        "map": {"M": {"name": {"S": f"Näme {i}"}, "empty": {"M": {}}}},
    }


@mock_aws
class ItemAnswers(unittest.TestCase):
    def setUp(self) -> None:
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        pk_sk_table(self.ddb, "t")
        for i in range(30):
            self.ddb.put_item(TableName="t", Item=item(i))
        self.ddb.put_item(TableName="t", Item={"pk": {"S": "bin"}, "sk": {"S": "b"}, "blob": {"B": b"\x00\xffraw"}})

    def tearDown(self) -> None:
        ActionResult.execute_result = STOCK

    def both(self, call) -> tuple[dict, dict]:
        """The answer through moto's serializer, then through the patch (and
        how often the patch handed the answer to moto's serializer)."""
        ActionResult.execute_result = STOCK
        stock = call()
        self.fell_back = 0

        def counted(result, context):
            self.fell_back += 1
            return STOCK(result, context)

        ActionResult.execute_result = counted
        item_answers.apply()
        patched = call()
        ActionResult.execute_result = STOCK
        for answer in (stock, patched):
            answer.pop("ResponseMetadata", None)
        return stock, patched

    def all_answer_as_stock_moto(self, calls: dict) -> None:
        for name, call in calls.items():
            with self.subTest(name):
                stock, patched = self.both(call)
                self.assertEqual(stock, patched)
                self.assertEqual(self.fell_back, 0, "answered by the patch")

    def test_reads_answer_as_stock_moto(self) -> None:
        calls = {
            "get": lambda: self.ddb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "K0003"}}),
            "get missing": lambda: self.ddb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "none"}}),
            "query page": lambda: self.ddb.query(
                TableName="t",
                KeyConditionExpression="pk = :p AND begins_with(sk, :k)",
                ExpressionAttributeValues={":p": {"S": "p"}, ":k": {"S": "K00"}},
                Limit=7,
                ReturnConsumedCapacity="TOTAL",
            ),
            "query projected": lambda: self.ddb.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p"}},
                ProjectionExpression="sk, #m.#n",
                ExpressionAttributeNames={"#m": "map", "#n": "name"},
                ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"S": "K0010"}},
            ),
            "scan count": lambda: self.ddb.scan(TableName="t", Select="COUNT"),
            "batch get": lambda: self.ddb.batch_get_item(
                RequestItems={"t": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": f"K{i:04}"}} for i in (1, 2, 99)]}},
                ReturnConsumedCapacity="INDEXES",
            ),
        }
        self.all_answer_as_stock_moto(calls)

    def test_writes_answer_as_stock_moto(self) -> None:
        key = {"pk": {"S": "p"}, "sk": {"S": "K0005"}}
        calls = {
            # Each call leaves the table as it found it, so both runs answer alike.
            "put, old item back": lambda: self.ddb.put_item(TableName="t", Item=item(5), ReturnValues="ALL_OLD"),
            "update, all new": lambda: self.ddb.update_item(
                TableName="t", Key=key, UpdateExpression="SET #m.#n = :v",
                ExpressionAttributeNames={"#m": "map", "#n": "name"},
                ExpressionAttributeValues={":v": {"S": "Näme 5"}}, ReturnValues="ALL_NEW",
                ReturnConsumedCapacity="TOTAL",
            ),
            "update, nothing back": lambda: self.ddb.update_item(
                TableName="t", Key=key, UpdateExpression="SET n = :v", ExpressionAttributeValues={":v": {"N": "5"}}
            ),
            "delete and put back": lambda: self.ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD")
            | {"put back": self.ddb.put_item(TableName="t", Item=item(5))["ResponseMetadata"]["HTTPStatusCode"]},
            "batch write": lambda: self.ddb.batch_write_item(
                RequestItems={"t": [{"PutRequest": {"Item": item(i)}} for i in range(3)]},
                ReturnConsumedCapacity="TOTAL",
            ),
            "transaction": lambda: self.ddb.transact_write_items(
                TransactItems=[
                    {"Update": {"TableName": "t", "Key": key, "UpdateExpression": "SET n = :v",
                                "ExpressionAttributeValues": {":v": {"N": "5"}}}},
                    {"Put": {"TableName": "t", "Item": item(6)}},
                ]
            ),
        }
        self.all_answer_as_stock_moto(calls)

    def test_stream_records_answer_as_stock_moto(self) -> None:
        pk_sk_table(self.ddb, "s", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        for i in range(5):
            self.ddb.put_item(TableName="s", Item=item(i))
        self.ddb.update_item(
            TableName="s", Key={"pk": {"S": "p"}, "sk": {"S": "K0001"}},
            UpdateExpression="SET n = :v", ExpressionAttributeValues={":v": {"N": "-1"}},
        )
        self.ddb.delete_item(TableName="s", Key={"pk": {"S": "p"}, "sk": {"S": "K0002"}})
        # moto routes the stream's API by this host; botocore's default one is newer.
        streams = boto3.client(
            "dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
        )
        arn = self.ddb.describe_table(TableName="s")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        stock, patched = self.both(lambda: streams.get_records(ShardIterator=iterator, Limit=100))
        self.assertEqual([r["eventName"] for r in patched["Records"]], ["INSERT"] * 5 + ["MODIFY", "REMOVE"])
        self.assertIn("OldImage", patched["Records"][5]["dynamodb"])
        # Each read hands out an iterator of its own.
        self.assertTrue(stock.pop("NextShardIterator") and patched.pop("NextShardIterator"))
        self.assertEqual(stock, patched)
        self.assertEqual(self.fell_back, 0, "answered by the patch")

    def test_binary_values_take_motos_path(self) -> None:
        stock, patched = self.both(
            lambda: self.ddb.get_item(TableName="t", Key={"pk": {"S": "bin"}, "sk": {"S": "b"}})
        )
        self.assertEqual(patched["Item"]["blob"]["B"], b"\x00\xffraw")
        self.assertEqual(stock, patched)
        self.assertEqual(self.fell_back, 1)

    def test_errors_are_motos(self) -> None:
        def missing_table():
            try:
                self.ddb.query(
                    TableName="nope",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "p"}},
                )
            except self.ddb.exceptions.ResourceNotFoundException as e:
                return {"code": e.response["Error"]["Code"]}
            return {}

        stock, patched = self.both(missing_table)
        self.assertEqual(stock, {"code": "ResourceNotFoundException"})
        self.assertEqual(stock, patched)


@mock_aws
class ConditionParsing(unittest.TestCase):
    """`speed.condition_parsing` answers conditional writes as stock moto does,
    parsing each expression once."""

    def setUp(self) -> None:
        from moto.dynamodb.comparisons import ConditionExpressionParser

        self.parser, self.stock = ConditionExpressionParser, ConditionExpressionParser.parse
        self.parses = 0

        def counted(parser):
            self.parses += 1
            return self.stock(parser)

        ConditionExpressionParser.parse = counted
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")

    def tearDown(self) -> None:
        self.parser.parse = self.stock

    def script(self) -> list:
        """Conditional writes on a new table: each answer, or error code, message and reasons."""
        ddb, out = self.ddb, []
        pk_sk_table(ddb, "t")

        def run(call) -> None:
            try:
                answer = call()
                answer.pop("ResponseMetadata", None)
                out.append(answer)
            except ddb.exceptions.ClientError as e:
                out.append((e.response["Error"], e.response.get("CancellationReasons")))

        def device(sk: str, status: str) -> dict:
            return {"pk": {"S": "p"}, "sk": {"S": sk}, "status": {"S": status}}

        not_enrolled = {
            "ConditionExpression": "attribute_not_exists(pk) OR #st <> :enrolled",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":enrolled": {"S": "enrolled"}},
        }
        puts = [{"Put": {"TableName": "t", "Item": device(f"K{i}", "pre_approved"), **not_enrolled}} for i in range(10)]
        run(lambda: ddb.transact_write_items(TransactItems=puts))
        run(lambda: ddb.update_item(
            TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "K3"}}, UpdateExpression="SET #st = :e",
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":e": {"S": "enrolled"}}, ReturnValues="ALL_NEW",
        ))
        # K3 is enrolled now: the transaction is cancelled, with its reasons; so is the put.
        run(lambda: ddb.transact_write_items(TransactItems=puts))
        run(lambda: ddb.put_item(
            TableName="t", Item=device("K3", "pre_approved"), ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **not_enrolled,
        ))
        # The same expression with another value is another condition.
        other = {**not_enrolled, "ExpressionAttributeValues": {":enrolled": {"S": "other"}}}
        run(lambda: ddb.put_item(TableName="t", Item=device("K3", "pre_approved"), **other))
        # What moto refuses is refused every time.
        for _ in range(2):
            run(lambda: ddb.put_item(
                TableName="t", Item=device("K4", "x"), ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeNames={"#unused": "status"},
            ))
            run(lambda: ddb.put_item(
                TableName="t", Item=device("K4", "x"), ConditionExpression="status = :s",
                ExpressionAttributeValues={":s": {"S": "x"}},
            ))
        run(lambda: ddb.scan(TableName="t", ConsistentRead=True))
        ddb.delete_table(TableName="t")
        return out

    def test_conditional_writes_answer_as_stock_moto(self) -> None:
        stock = self.script()
        stock_parses = self.parses
        condition_parsing.apply()
        self.parses = 0
        fixed = self.script()
        self.assertEqual(stock, fixed)
        self.assertEqual(len(stock), 10)
        self.assertEqual(stock[2][1][3]["Code"], "ConditionalCheckFailed", stock[2])
        self.assertLess(self.parses, stock_parses / 4, "each expression parsed once, not per item")


@mock_aws
class UpdateExpressions(unittest.TestCase):
    """`speed.update_expressions` answers updates as stock moto does: plain SET/REMOVE
    expressions applied directly, everything else (and every refusal) through moto."""

    def setUp(self) -> None:
        from moto.dynamodb import models
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser
        from moto.dynamodb.parsing.validators import UpdateExpressionValidator

        self.put_back = saved(
            (UpdateExpressionParser, "make"),
            (models, "UpdateExpressionValidator"),
            (models, "UpdateExpressionExecutor"),
            (UpdateExpressionValidator, "validate"),
        )
        stock = UpdateExpressionValidator.validate
        self.validations = 0

        def counted(validator):
            self.validations += 1
            return stock(validator)

        UpdateExpressionValidator.validate = counted
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")

    def tearDown(self) -> None:
        self.put_back()

    def script(self) -> list:
        """Updates on a new table with an index on `st`: each answer, or error code,
        message and reasons; then the table and its stream's records."""
        ddb, out = self.ddb, []
        pk_sk_table(
            ddb, "t", ({"AttributeName": "st", "AttributeType": "S"},),
            GlobalSecondaryIndexes=[{
                "IndexName": "by-st", "KeySchema": [{"AttributeName": "st", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )

        def run(call) -> None:
            try:
                answer = call()
                answer.pop("ResponseMetadata", None)
                out.append(answer)
            except ddb.exceptions.ClientError as e:
                out.append((e.response["Error"], e.response.get("CancellationReasons")))

        def update(sk: str, expression: str, values: dict | None = None, names: dict | None = None, **kw) -> None:
            extra = {"ExpressionAttributeValues": values} if values else {}
            if names:
                extra["ExpressionAttributeNames"] = names
            run(lambda: ddb.update_item(
                TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": sk}}, UpdateExpression=expression, **extra, **kw
            ))

        upsert = (
            "SET #st = if_not_exists(#st, :pre), kind = if_not_exists(kind, :kind), tags = if_not_exists(tags, :tags), "
            "updated = :now, link = :link, deep = :deep REMOVE gone"
        )
        values = {
            ":pre": {"S": "pre"}, ":kind": {"S": "ios"}, ":tags": {"L": [{"S": "a"}]}, ":now": {"S": "t1"},
            ":link": {"S": "acct"}, ":deep": {"M": {"x": {"N": "1"}, "y": {"SS": ["a", "b"]}}},
        }
        names = {"#st": "status"}
        # A new item, then the same item again: if_not_exists keeps what is there.
        update("A", upsert, values, names, ReturnValues="ALL_NEW")
        update("A", upsert, {**values, ":pre": {"S": "other"}, ":kind": {"S": "macos"}, ":now": {"S": "t2"}},
               names, ReturnValues="UPDATED_OLD")
        update("A", "REMOVE link, updated SET copy = if_not_exists(kind, :x), st = :s",
               {":x": {"S": "x"}, ":s": {"S": "s1"}}, ReturnValues="ALL_OLD")
        update("A", "SET gone = :g REMOVE deep", {":g": {"BOOL": True}}, ReturnValues="UPDATED_NEW")
        # What moto refuses, or takes its own path for: its answer, every time.
        for _ in range(2):
            update("B", "SET a = :a, a = :b", {":a": {"S": "1"}, ":b": {"S": "2"}})
            update("B", "SET #a = :a, #b = :a", {":a": {"S": "1"}}, {"#a": "x", "#b": "x"})
            update("B", "SET sk = :a", {":a": {"S": "1"}})
            update("B", "SET #k = :a", {":a": {"S": "1"}}, {"#k": "pk"})
            update("B", "SET name = :a", {":a": {"S": "1"}})
            update("B", "SET a = :a", {":b": {"S": "1"}})
            update("B", "SET a = :a, b = :b", {":a": {"S": "1"}})
            update("B", "SET st = :n", {":n": {"N": "1"}})
            update("B", "SET #s = :n", {":n": {"N": "1"}}, {"#s": "st"})
            update("B", "SET st = :e", {":e": {"S": ""}})
            update("B", "SET a = :a SET b = :a", {":a": {"S": "1"}})
            update("B", "set a = :a", {":a": {"S": "1"}})
            update("B", "SET a = :a + :b, c = list_append(l, :l)", {":a": {"N": "1"}, ":b": {"N": "2"}, ":l": {"L": []}})
            update("B", "SET m.x = :a, l[0] = :a", {":a": {"S": "1"}})
            update("B", "SET big = :big", {":big": {"S": "x" * 406_000}})
            update("B", "SET half = :h", {":h": {"S": "y" * 300_000}})
            update("B", "SET more = :h", {":h": {"S": "z" * 200_000}}, ReturnValues="ALL_NEW")
        items = [
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": f"T{i}"}}, "UpdateExpression": upsert,
                        "ExpressionAttributeValues": values, "ExpressionAttributeNames": names}}
            for i in range(5)
        ]
        run(lambda: ddb.transact_write_items(TransactItems=items))
        refused = {**items[2]["Update"], "ConditionExpression": "attribute_not_exists(pk)"}
        run(lambda: ddb.transact_write_items(TransactItems=[*items[:2], {"Update": refused}]))
        run(lambda: ddb.scan(TableName="t", ConsistentRead=True))
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
        out.append([(r["eventName"], r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in records])
        ddb.delete_table(TableName="t")
        return out

    def test_updates_answer_as_stock_moto(self) -> None:
        stock = self.script()
        stock_validations = self.validations
        update_expressions.apply()
        self.validations = 0
        fixed = self.script()
        self.assertEqual(len(stock), 4 + 2 * 17 + 4)
        for n, (a, b) in enumerate(zip(stock, fixed)):
            self.assertEqual(a, b, f"answer {n}")
        self.assertEqual(stock, fixed)
        # Only what changed comes back as updated: if_not_exists kept the rest.
        self.assertEqual(stock[1]["Attributes"], {"updated": {"S": "t1"}})
        refusals = [a[0]["Code"] for a in stock[4:21] if isinstance(a, tuple)]
        self.assertEqual(len(refusals), 14, stock[4:21])
        # moto's validators ran only for what the fix leaves to them.
        self.assertLess(self.validations, stock_validations)

    def test_plain_expressions_skip_motos_validators(self) -> None:
        update_expressions.apply()
        pk_sk_table(self.ddb, "p")
        for sk in ("new", "new", "other"):
            self.ddb.update_item(
                TableName="p", Key={"pk": {"S": "p"}, "sk": {"S": sk}},
                UpdateExpression="SET a = if_not_exists(a, :a), b = :b REMOVE c",
                ExpressionAttributeValues={":a": {"S": "1"}, ":b": {"N": "2"}},
            )
        self.assertEqual(self.validations, 0)
        self.ddb.update_item(
            TableName="p", Key={"pk": {"S": "p"}, "sk": {"S": "new"}}, UpdateExpression="SET b = b + :b",
            ExpressionAttributeValues={":b": {"N": "2"}},
        )
        self.assertEqual(self.validations, 1, "anything else is moto's")

    def test_only_plain_expressions_have_a_plan(self) -> None:
        reserved = frozenset({"NAME", "SET"})
        plan = update_expressions.plan_of
        self.assertEqual(
            plan("SET #a = if_not_exists(#a, :v), b=:w REMOVE c, #d", reserved),
            (
                update_expressions.Set("#a", ":v", "#a"), update_expressions.Set("b", ":w"),
                update_expressions.Remove("c"), update_expressions.Remove("#d"),
            ),
        )
        for expression in ("", "SET", "SET a = :v,", "SET a = b", "SET a.b = :v", "SET a[0] = :v", "SET a = :v + :w",
                           "ADD n :v", "SET name = :v", "SET a = :v SET b = :w", "set a = :v",
                           "SET a = if_not_exists(b)", "SET a = IF_NOT_EXISTS(a, :v)", "REMOVE a SET", "SET a = :v $"):
            with self.subTest(expression):
                self.assertIsNone(plan(expression, reserved))


@mock_aws
class RequestParsing(unittest.TestCase):
    """`speed.request_parsing` reads each DynamoDB request as moto's parser does."""

    def setUp(self) -> None:
        from moto.dynamodb.responses import DynamoHandler

        self.handler, self.stock_parse = DynamoHandler, DynamoHandler.parse_parameters
        self.fell_back: list[str] = []

        def counted(handler, request) -> None:
            self.fell_back.append(handler._get_action())
            self.stock_parse(handler, request)

        DynamoHandler.parse_parameters = counted
        request_parsing.apply()
        fast_parse = DynamoHandler.parse_parameters
        self.seen: list[tuple[str, object, object]] = []

        def both(handler, request) -> None:
            self.stock_parse(handler, request)
            stock = handler.params
            fast_parse(handler, request)
            self.seen.append((handler._get_action(), stock, handler.params))

        DynamoHandler.parse_parameters = both
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")

    def tearDown(self) -> None:
        self.handler.parse_parameters = self.stock_parse

    def test_requests_read_as_motos_parser_reads_them(self) -> None:
        ddb = self.ddb
        pk_sk_table(
            ddb, "t", attributes=({"AttributeName": "n", "AttributeType": "N"},),
            GlobalSecondaryIndexes=[{
                "IndexName": "by-n", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                   {"AttributeName": "n", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["map"]},
            }],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        ddb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": item(i)}} for i in range(25)]})
        key = {"pk": {"S": "p"}, "sk": {"S": "K0003"}}
        ddb.update_item(
            TableName="t", Key=key, UpdateExpression="SET #m.#n = :v ADD n :one REMOVE flag",
            ConditionExpression="attribute_exists(pk) AND n < :big",
            ExpressionAttributeNames={"#m": "map", "#n": "name"},
            ExpressionAttributeValues={":v": {"S": "x"}, ":one": {"N": "1"}, ":big": {"N": "1e10"}},
            ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        ddb.query(TableName="t", IndexName="by-n", KeyConditionExpression="pk = :p AND n BETWEEN :a AND :b",
                  ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "2"}, ":b": {"N": "9"}},
                  ScanIndexForward=False, Limit=3, ExclusiveStartKey={**key, "n": {"N": "9"}})
        ddb.batch_get_item(RequestItems={"t": {"Keys": [key], "ProjectionExpression": "sk", "ConsistentRead": True}})
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": item(40), "ConditionExpression": "attribute_not_exists(sk)"}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "K0001"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": key, "ConditionExpression": "attribute_exists(sk)"}},
            ],
            ClientRequestToken="tok",
        )
        ddb.put_item(TableName="t", Item={"pk": {"S": "bin"}, "sk": {"S": "b"}, "blob": {"B": b"\x00\xff"}})
        ddb.scan(TableName="t", Select="COUNT", FilterExpression="attribute_exists(#b)",
                 ExpressionAttributeNames={"#b": "blob"})
        actions = [action for action, _, _ in self.seen]
        for want in ("CreateTable", "BatchWriteItem", "UpdateItem", "Query", "BatchGetItem", "TransactWriteItems",
                     "PutItem", "Scan"):
            self.assertIn(want, actions)
        for action, stock, fast in self.seen:
            with self.subTest(action):
                self.assertEqual(stock, fast)
        binary = [fast for action, _, fast in self.seen if action == "PutItem"]
        self.assertEqual(binary[0]["Item"]["blob"]["B"], b"\x00\xff", "a blob is decoded, by moto's parser")
        self.assertEqual(self.fell_back, ["PutItem"], "only the binary item took moto's parser")


@mock_aws
class QueueSends(unittest.TestCase):
    """`speed.sqs_sends`: a send reads the one attribute it needs, and queues as moto does."""

    def setUp(self) -> None:
        from moto.sqs import models

        self.models = models
        self.stock = (models.Queue.attributes, models.SQSBackend.send_message,
                      models.SQSBackend.is_message_valid_based_on_retention_period)
        self.sqs = boto3.client("sqs", region_name="us-east-1")

    def tearDown(self) -> None:
        m = self.models
        (m.Queue.attributes, m.SQSBackend.send_message, m.SQSBackend.is_message_valid_based_on_retention_period) = (
            self.stock
        )

    def run_queues(self, run: str) -> dict:
        """Each kind of queue: what a batch of sends (one body twice) leaves on it."""
        out = {}
        kinds = {
            "standard": {},
            "fifo": {"FifoQueue": "true"},
            "fifo, content deduplicated": {"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        }
        for n, (kind, attrs) in enumerate(kinds.items()):
            name = f"{run}{n}" + (".fifo" if attrs else "")
            url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(["a", "a", "b"])]
            for e in entries if attrs else ():
                e["MessageGroupId"] = "g"
                if "ContentBasedDeduplication" not in attrs:
                    e["MessageDeduplicationId"] = e["MessageBody"]
            r = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            counts = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out[kind] = {
                "sent": len(r.get("Successful", [])),
                "failed": sorted(f["Code"] for f in r.get("Failed", [])),
                "received": sorted(m["Body"] for m in got.get("Messages", [])),
                "in flight": counts["ApproximateNumberOfMessagesNotVisible"],
            }
        return out

    def test_sends_queue_as_stock_moto(self) -> None:
        stock = self.run_queues("stock")
        sqs_sends.apply()
        patched = self.run_queues("patched")
        self.assertEqual(stock, patched)
        self.assertEqual(patched["standard"]["received"], ["a", "a", "b"])
        self.assertEqual(patched["fifo, content deduplicated"]["received"], ["a", "b"])
        # Outside a send, the attributes are whole.
        url = self.sqs.create_queue(QueueName="whole")["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="x")
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["ApproximateNumberOfMessages"], "1")


class Routing(unittest.TestCase):
    def test_the_listing_is_motos(self) -> None:
        from moto import backends
        from moto.core import responses
        from moto.dynamodb.responses import DynamoHandler

        stock, stock_methods = backends.list_of_moto_modules, responses.method_names_from_class
        try:
            routing.apply()
            self.assertEqual(list(backends.list_of_moto_modules()), list(stock()))
            self.assertIn("dynamodb", backends.list_of_moto_modules())
            for _ in range(2):
                self.assertEqual(responses.method_names_from_class(DynamoHandler), stock_methods(DynamoHandler))
            self.assertIn("query", responses.method_names_from_class(DynamoHandler))
        finally:
            backends.list_of_moto_modules, responses.method_names_from_class = stock, stock_methods


@mock_aws
class IndexPages(unittest.TestCase):
    """`speed.index_pages` pages an index as moto does, forwards and backwards."""

    def setUp(self) -> None:
        from moto.dynamodb.models.table import Table

        self.table_class, self.stock_query = Table, Table.query
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.ddb.create_table(
            TableName="imports",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "kind", "AttributeType": "S"},
                {"AttributeName": "created", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[{
                "IndexName": "by-created",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"},
                              {"AttributeName": "created", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(40):
            it = {"id": {"S": f"I{i:03}"}, "sk": {"S": "META"}, "n": {"N": str(i)}}
            if i % 5:  # sparse: some items are not in the index
                # Two items share a created time: the table's key orders them.
                it |= {"kind": {"S": "import"}, "created": {"S": f"2026-12-{1 + i // 2:02}"}}
            self.ddb.put_item(TableName="imports", Item=it)
        for i in range(30):
            self.ddb.put_item(TableName="imports", Item={"id": {"S": f"I001#UNDO#{i % 4}"}, "sk": {"S": f"U{i}"}})

    def tearDown(self) -> None:
        self.table_class.query = self.stock_query

    def pages(self, **extra) -> list[list[str]]:
        out, start = [], None
        while True:
            args = dict(TableName="imports", IndexName="by-created", Limit=6, KeyConditionExpression="kind = :k",
                        ExpressionAttributeValues={":k": {"S": "import"}}, **extra)
            if start:
                args["ExclusiveStartKey"] = start
            r = self.ddb.query(**args)
            out.append([i["id"]["S"] for i in r["Items"]])
            start = r.get("LastEvaluatedKey")
            if not start:
                return out

    def test_pages_as_stock_moto(self) -> None:
        for name, extra in {"newest first": {"ScanIndexForward": False}, "oldest first": {}}.items():
            with self.subTest(name):
                self.table_class.query = self.stock_query
                stock = self.pages(**extra)
                fell_back = []

                def counted(*args, **kwargs):
                    fell_back.append(1)
                    return self.stock_query(*args, **kwargs)

                self.table_class.query = counted
                index_pages.apply()
                patched = self.pages(**extra)
                self.assertEqual(stock, patched)
                self.assertEqual(fell_back, [], "paged by the patch")
                self.assertEqual(sum(len(p) for p in patched), 32)

    def test_partition_pages_as_stock_moto(self) -> None:
        """`speed.partition_queries` pages one partition of the table as moto does."""
        listed = []
        stock_all_items = self.table_class.all_items

        def counted(table):
            listed.append(1)
            return stock_all_items(table)

        def pages(**extra) -> list[list[str]]:
            out, start = [], None
            while True:
                args = dict(TableName="imports", Limit=3, KeyConditionExpression="id = :i",
                            ExpressionAttributeValues={":i": {"S": "I001#UNDO#1"}}, **extra)
                r = self.ddb.query(**args, **({"ExclusiveStartKey": start} if start else {}))
                out.append([i["sk"]["S"] for i in r["Items"]])
                start = r.get("LastEvaluatedKey")
                if not start:
                    return out

        try:
            self.table_class.all_items = counted
            for name, extra in {"forwards": {}, "backwards": {"ScanIndexForward": False}}.items():
                with self.subTest(name):
                    self.table_class.query = self.stock_query
                    stock = pages(**extra)
                    partition_queries.apply()
                    listed.clear()
                    patched = pages(**extra)
                    self.assertEqual(stock, patched)
                    self.assertEqual(listed, [], "the partition alone was read")
                    self.assertEqual(sum(len(p) for p in patched), 8)
        finally:
            self.table_class.all_items = stock_all_items


if __name__ == "__main__":
    unittest.main()
