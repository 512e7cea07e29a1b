"""moto in server mode, with the few fixes this project's behaviour depends on.

moto is the local AWS stand-in (pure Python, one port). Where it differs from
AWS in a way that would make a local run lie, this module patches it before
the server starts:

- **DynamoDB requests are atomic.** moto serves requests on threads without a
  lock, so two conditional writes to one item can both pass their condition;
  DynamoDB never allows that, and the invite claims rely on it.
- **A transaction restores only what it touched.** moto deep-copies every
  table a transaction names, once per item, to roll back: an 11-item
  transaction on a table of 10,000 items copies 110,000 items (3 per second
  measured). Here the touched items are saved and put back on failure, and
  the stream records of the cancelled writes are dropped.
- **A page of an index costs the page** (see `patch_index_queries`): moto
  sorted the whole table for every Query of a GSI.
- **An answer of items costs its items once** (see `patch_item_answers`):
  moto walked the botocore model for every value of every item it answered,
  item reads and writes and the stream's records alike.
- **A request is read once** (see `patch_request_parsing`): a DynamoDB body
  moto's model walk would not change is taken as the JSON it is, and the
  router's listings (moto's services, a handler's methods) are made once,
  not per request (see `patch_routing`).
- **Sending to and receiving from a long SQS queue is not quadratic.** For
  each message it takes or hands out, moto computes every queue attribute
  (three counts over all the messages) to read one; here it reads that one.
- **SES v2 `GetAccount`** (moto has no handler) answers with a sending quota
  set at start or by `POST /moto-api/static/ses/account`, which also injects
  throttling (`throttle_next`) and refuses chosen recipients (`reject`) as
  the SES sandbox refuses unverified ones. `GET` on the same path returns the
  quota and the sends counted per second, for tests and the benchmark.

Anything else talks to stock moto: a user with LocalStack or AWS points
`AWS_ENDPOINT_URL` elsewhere and none of this runs.
"""

from __future__ import annotations

import argparse
import calendar
import copy
import datetime
import functools
import json
import threading
import time
import types
from collections import Counter
from typing import Any


class SesAccount:
    """The account's SES quota and what was sent, per epoch second."""

    def __init__(self, max_send_rate: float, max_24h: float):
        self.lock = threading.Lock()
        self.max_send_rate = max_send_rate
        self.max_24h = max_24h
        self.per_second: Counter[int] = Counter()
        self.throttle_next = 0
        self.throttled = 0
        self.reject: set[str] = set()

    def sent_last_24h(self) -> int:
        since = int(time.time()) - 86400
        return sum(n for s, n in self.per_second.items() if s > since)

    def admit(self, recipients: list[str]) -> tuple[str, str] | None:
        """None if the send goes out (and is counted), else (error code, message)."""
        with self.lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.throttled += 1
                return "TooManyRequestsException", "Maximum sending rate exceeded."
            if any(r.lower() in self.reject for r in recipients):
                return "MessageRejected", "Email address is not verified."
            self.per_second[int(time.time())] += 1
            return None

    def configure(self, body: dict[str, Any]) -> None:
        with self.lock:
            if "max_send_rate" in body:
                self.max_send_rate = float(body["max_send_rate"])
            if "max_24_hour_send" in body:
                self.max_24h = float(body["max_24_hour_send"])
            if "throttle_next" in body:
                self.throttle_next = int(body["throttle_next"])
            if "reject" in body:
                # Added to, not replaced: tests running side by side each refuse their own.
                self.reject |= {str(r).lower() for r in body["reject"]}
            if body.get("reset_counts"):
                self.per_second.clear()
                self.throttled = 0

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "max_send_rate": self.max_send_rate,
                "max_24_hour_send": self.max_24h,
                "sent_last_24_hours": self.sent_last_24h(),
                "throttled": self.throttled,
                "sends_per_second": {str(s): n for s, n in sorted(self.per_second.items())},
            }


def patch_dynamodb() -> None:
    from moto.dynamodb import models as ddb_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    call_action = DynamoHandler.call_action
    # Writes counted per table (None: any table): the sorted index pages below are kept until then.
    writes: Counter = Counter()

    def atomic_call_action(self: Any) -> Any:
        with lock:
            action = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
            if action not in READ_ACTIONS:
                for table in written_tables(action, getattr(self, "params", None)):
                    writes[table] += 1
            return call_action(self)

    DynamoHandler.call_action = atomic_call_action
    patch_index_queries(Table, writes)

    # moto's transaction copies whole tables through this module's `copy`;
    # a Table handed to it comes back as itself, and the items are saved below.
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    ddb_models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    transact = ddb_models.DynamoDBBackend.transact_write_items

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any, Any]]:
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = backend.tables[op["TableName"]]
                attrs = op.get("Item") or op["Key"]
                h = DynamoType(attrs[table.hash_key_attr])
                r = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, StopIteration, TypeError, AttributeError):
                continue  # moto rejects the request itself, before writing
            saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        return saved

    def stream_lengths(saved: list[tuple[Table, Any, Any, Any]]) -> dict[int, tuple[Any, int]]:
        shards = (table.stream_shard for table, *_ in saved if table.stream_shard is not None)
        return {id(shard): (shard, len(shard.items)) for shard in shards}

    def restore(saved: list[tuple[Table, Any, Any, Any]], streams: dict[int, tuple[Any, int]]) -> None:
        # A cancelled transaction changed nothing, so its stream shows nothing either.
        for shard, length in streams.values():
            del shard.items[length:]
        for table, h, r, item in reversed(saved):
            if r is None:
                if item is None:
                    table.items.pop(h, None)
                else:
                    table.items[h] = item
            elif item is None:
                table.items[h].pop(r, None)
                if not table.items[h]:
                    del table.items[h]
            else:
                table.items[h][r] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = touched(self, transact_items)
        streams = stream_lengths(saved)
        try:
            transact(self, transact_items)
        except Exception:
            restore(saved, streams)
            raise

    ddb_models.DynamoDBBackend.transact_write_items = transact_write_items


READ_ACTIONS = frozenset(
    ["GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables", "DescribeTimeToLive"]
)


def written_tables(action: str, request: Any) -> list[str | None]:
    """The tables a request may write, from the parameters moto parsed already;
    [None] when that is not plain (any table)."""
    try:
        if action in ("PutItem", "UpdateItem", "DeleteItem"):
            return [request["TableName"]]
        if action == "BatchWriteItem":
            return list(request["RequestItems"])
        if action == "TransactWriteItems":
            return [next(iter(entry.values()))["TableName"] for entry in request["TransactItems"]]
    except (KeyError, TypeError, StopIteration, AttributeError):
        pass
    return [None]


def patch_index_queries(table_class: Any, writes: Counter) -> None:
    """A page of a global secondary index costs its own items, not the table's.

    moto answers every Query of an index by sorting the whole table, keeping
    the partition, sorting it again and walking it from the start to the
    exclusive start key: a page of 50 took 1.4 s with 100,000 devices (3.3 s
    with a serial prefix), so a million-device console or export could not be
    measured. Here each (table, index) keeps its partitions sorted until the
    next write, a page starts by bisection, and a `begins_with` range stops at
    the prefix's end; a descending page without a range condition (the import
    history, newest first) walks the partition backwards. Anything else (other
    key shapes, a descending range condition, old parameters) takes moto's own
    path.
    """
    import bisect

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import GlobalSecondaryIndex

    query = table_class.query
    cache: dict[tuple[int, str], tuple[tuple[int, int], dict[Any, tuple[list[Any], list[Any]]]]] = {}

    def partitions(table: Any, index: Any, hash_attr: str, range_attr: str) -> dict[Any, tuple[list[Any], list[Any]]]:
        key = (id(table), index.name)
        generation = (writes[None], writes[table.name])
        cached = cache.get(key)
        if cached and cached[0] == generation:
            return cached[1]
        groups: dict[Any, list[tuple[Any, Any]]] = {}
        for item in iter_items(table):
            h, r = item.attrs.get(hash_attr), item.attrs.get(range_attr)
            if h is None or r is None:
                continue  # not in the index
            groups.setdefault(h.cast_value, []).append(((r.cast_value, *table_key(table, item.attrs)), item))
        built = {}
        for h, entries in groups.items():
            entries.sort(key=lambda e: e[0])
            built[h] = ([e[0] for e in entries], [e[1] for e in entries])
        cache[key] = (generation, built)
        return built

    def table_key(table: Any, attrs: dict[str, Any]) -> tuple[Any, ...]:
        # Items with the same index key are ordered by the table's key.
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return tuple(DynamoType(attrs[n]).cast_value if isinstance(attrs[n], dict) else attrs[n].cast_value
                     for n in names)

    def iter_items(table: Any):
        for value in table.items.values():
            if table.range_key_attr:
                yield from value.values()
            else:
                yield value

    def fast_query(self: Any, hash_key: Any, range_comparison: Any, range_objs: list[Any], limit: int,
                   exclusive_start_key: Any, scan_index_forward: bool, projection_expressions: Any,
                   index_name: str | None = None, consistent_read: bool = False, filter_expression: Any = None,
                   hash_key_conditions: Any = None, range_key_conditions: Any = None, **filter_kwargs: Any) -> Any:
        args = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression)
        kwargs = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions, **filter_kwargs}
        if not index_name and self.range_key_attr and len(hash_key_conditions or []) == 1:
            return partition_query(self, hash_key_conditions[0][1], args, kwargs)
        index = next((i for i in (self.global_indexes or []) if i.name == index_name), None)
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
        if (not isinstance(index, GlobalSecondaryIndex) or len(hashes) != 1 or len(ranges) != 1 or filter_kwargs
                or (not scan_index_forward and range_comparison) or consistent_read
                or len(hash_key_conditions or []) != 1 or len(range_key_conditions or []) > 1):
            return query(*args, **kwargs)
        hash_attr, range_attr = hashes[0], ranges[0]
        try:
            keys, items = partitions(self, index, hash_attr, range_attr).get(hash_key_conditions[0][1].cast_value, ([], []))
            start, stop = 0, len(keys)
            if range_comparison == "BEGINS_WITH":
                start = bisect.bisect_left(keys, (range_objs[0].cast_value,))
            if exclusive_start_key:
                after = (DynamoType(exclusive_start_key[range_attr]).cast_value,
                         *table_key(self, exclusive_start_key))
                start = max(start, bisect.bisect_right(keys, after))
                stop = bisect.bisect_left(keys, after)
        except (TypeError, KeyError):
            return query(*args, **kwargs)  # mixed key types: moto's ordering
        # Descending (no range condition): from the end, or from just below the start key.
        # Walked by position: a slice would copy the partition (a million devices: 17 ms a page).
        positions = range(start, len(items)) if scan_index_forward else range(stop - 1, -1, -1)
        walk = (items[i] for i in positions)
        results, size, scanned, last = [], 0, 0, None
        for item in walk:
            if range_comparison and not item.attrs[range_attr].compare(range_comparison, range_objs):
                if range_comparison == "BEGINS_WITH":
                    break  # sorted: nothing further begins with the prefix
                continue
            item_size = item.size()
            if len(results) == limit or size + item_size > 1024 * 1024:
                last = self._get_last_evaluated_key(results[-1], index_name)
                break
            results.append(item)
            size += item_size
            scanned += 1
        # moto's own query deep-copies the page; here it is not copied:
        # projections build new items, and the answer is encoded before the
        # lock lets a write in.
        results = [index.project(r) for r in results]
        if filter_expression is not None:
            results = [r for r in results if filter_expression.expr(r)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, scanned, last

    def partition_query(table: Any, hash_value: Any, args: tuple, kwargs: dict) -> Any:
        # moto sorts every item of the table for a Query of one partition: with
        # an import's before-images (hundreds of thousands of items in the
        # imports table) each page took seconds. Its own logic runs on the
        # partition alone (requests are serialised by atomic_call_action's lock).
        part = table.items.get(hash_value)
        items = sorted(part.values(), key=lambda x: x.range_key) if part else []
        table.all_items = lambda: items
        try:
            return query(*args, **kwargs)
        finally:
            del table.all_items

    table_class.query = fast_query


# Answers made of items (`patch_item_answers` encodes them directly), per service.
ITEM_ANSWERS = {
    "dynamodb": frozenset(
        {
            "GetItem", "BatchGetItem", "Query", "Scan",
            "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
        }
    ),
    # Records with whole old and new images: the stream consumers read every write again.
    "dynamodbstreams": frozenset({"GetRecords"}),
}


def unix_timestamp(value: Any) -> float | int:
    """A datetime as the JSON protocols send it: epoch seconds, milliseconds when
    there are any (moto's own serializer, `_timestamp_unixtimestamp`); naive is UTC."""
    if not isinstance(value, datetime.datetime):
        raise TypeError(type(value).__name__)
    base = calendar.timegm(value.utctimetuple())
    return base + (value.microsecond // 1000) / 1000.0 if value.microsecond else base


def patch_item_answers() -> None:
    """Items are answered as JSON, not walked through moto's model serializer.

    moto 5.2 builds every answer by walking botocore's shape model value by
    value: a Query of 500 items with a nested map each spent ~0.5 s there, 80 %
    of the request, so each item a page returns cost the emulator about 1 ms
    (a 50-device list page 9-10 x a GetItem, an export 644 devices/s). The
    stream's GetRecords is the same walk over two images per write: seeding
    devices, 68 % of the emulator's CPU went there (py-spy --gil).
    The JSON protocol's answer for these is the result as it is (attribute
    values are already `{"S": ...}` maps), so it is encoded once; timestamps
    as epoch seconds, as moto's serializer writes them. A binary attribute
    (base64 in the answer) or anything else `json` cannot encode takes moto's
    own path.
    """
    from moto.core.responses import ActionResult

    execute_result = ActionResult.execute_result

    def fast_execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if isinstance(result, dict) and context.operation_model.name in ITEM_ANSWERS.get(
            context.service_model.service_name, ()
        ):
            try:
                body = json.dumps(result, separators=(",", ":"), default=unix_timestamp)
            except (TypeError, ValueError):
                body = None
            if body is not None and '"B":' not in body and '"BS":' not in body:
                version = context.service_model.metadata.get("jsonVersion", "1.0")
                return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return execute_result(self, context)

    ActionResult.execute_result = fast_execute_result


def patch_request_parsing() -> None:
    """A DynamoDB request is read as the JSON it is, not walked through the model.

    moto parses every request by walking botocore's input shape member by
    member (and tries the JSON body as a query string first): seeding devices,
    the parse was 13 % of the emulator's CPU, most of it over the items of
    BatchWriteItem. For DynamoDB's JSON protocol the walk changes nothing but
    blobs (base64 decoded), nulls (dropped) and members the model does not
    know (dropped), so a body with none of these is taken as `json` reads it.
    """
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler

    parse = DynamoHandler.parse_parameters
    members: dict[str, frozenset[str]] = {}

    def known(action: str) -> frozenset[str]:
        if action not in members:
            try:
                shape = get_service_model("dynamodb").operation_model(action).input_shape
                members[action] = frozenset(shape.members) if shape is not None else frozenset()
            except Exception:  # an unknown action: moto's own parse answers it
                members[action] = frozenset()
        return members[action]

    def fast_parse(self: Any, request: Any) -> None:
        body = request.data
        if body and not any(marker in body for marker in (b'"B":', b'"BS":', b"null")):
            try:
                params = json.loads(body)
            except ValueError:
                params = None
            if isinstance(params, dict) and params.keys() <= known(self._get_action()):
                self.params = params
                return
        parse(self, request)

    DynamoHandler.parse_parameters = fast_parse


def patch_routing() -> None:
    """moto lists its own package directory (a stat per service, ~150) to route
    every request, under the dispatcher's lock, then lists the handler class's
    methods (`inspect.getmembers`) to find the action's: neither changes once
    the server serves, so each is listed once."""
    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)


def patch_sqs() -> None:
    from moto.core.utils import unix_time
    from moto.sqs import models as sqs_models

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > unix_time()

    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = retained

    # Sending, moto reads one attribute (ContentBasedDeduplication) out of all
    # of them, three counts over every message included: 99 % of a
    # SendMessageBatch's time with a few thousand invites queued. While a
    # send runs, the queue's attributes are that one.
    attributes = sqs_models.Queue.attributes
    sending = threading.local()

    def lean_attributes(self: Any) -> dict[str, Any]:
        if not getattr(sending, "now", False):
            return attributes.fget(self)
        if not self.fifo_queue:
            return {}
        value = self.content_based_deduplication
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    send_message = sqs_models.SQSBackend.send_message

    def lean_send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        sending.now = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            sending.now = False

    sqs_models.Queue.attributes = property(lean_attributes)
    sqs_models.SQSBackend.send_message = lean_send_message


def patch_ses(account: SesAccount) -> None:
    from moto.moto_api._internal import urls as api_urls
    from moto.sesv2 import urls as sesv2_urls
    from moto.sesv2.responses import SESV2Response

    def get_account(self: Any) -> str:
        r = account.report()
        sent = r["sent_last_24_hours"]
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": True,
                "SendQuota": {
                    "Max24HourSend": r["max_24_hour_send"],
                    "MaxSendRate": r["max_send_rate"],
                    "SentLast24Hours": float(sent),
                },
            }
        )

    send_email = SESV2Response.send_email

    def admitted_send_email(self: Any) -> Any:
        params = json.loads(self.body or "{}")
        dest = params.get("Destination", {})
        recipients = dest.get("ToAddresses", []) + dest.get("CcAddresses", []) + dest.get("BccAddresses", [])
        refused = account.admit(recipients)
        if refused:
            code, message = refused
            status = 429 if code == "TooManyRequestsException" else 400
            return json.dumps({"message": message}), {"status": status, "x-amzn-ErrorType": code}
        return send_email(self)

    SESV2Response.get_account = get_account
    sesv2_urls.url_paths["{0}/v2/email/account$"] = SESV2Response.dispatch
    SESV2Response.send_email = admitted_send_email

    def account_route(request: Any, full_url: str, headers: Any) -> Any:
        if request.method == "POST":
            # get_data: the raw body whatever the content type (curl -d sends a form's).
            raw = request.get_data() if hasattr(request, "get_data") else request.body
            account.configure(json.loads(raw or b"{}"))
        return 200, {"Content-Type": "application/json"}, json.dumps(account.report())

    api_urls.url_paths["{0}/moto-api/static/ses/account"] = account_route


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    # A production account's starting quota; moto's own is the sandbox's 1/s, 200/day.
    parser.add_argument("--ses-max-send-rate", type=float, default=14.0)
    parser.add_argument("--ses-max-24-hour-send", type=float, default=50000.0)
    args = parser.parse_args()

    patch_dynamodb()
    patch_item_answers()
    patch_request_parsing()
    patch_routing()
    patch_sqs()
    patch_ses(SesAccount(args.ses_max_send_rate, args.ses_max_24_hour_send))
    from moto import server

    server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
