"""A cancelled transaction changes nothing: not its items, not its table's stream.

To roll back, moto deep-copies every table a transaction names, once per item
(an 11-item transaction on a table of 10,000 items copied 110,000 items: 3
transactions a second), and on cancellation puts the copies in the tables'
place. The writes made before the failing condition stay in the replaced
table's stream shard, which a reader's open shard iterator still holds: it
reads the cancelled writes, and no write after them. Here the tables are not
copied and not replaced: the items the transaction touches are saved and put
back, and the stream records it added are dropped.
"""

from __future__ import annotations

import copy
import types
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.dynamodb import models as ddb_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    # moto's transaction copies whole tables through its module's `copy`;
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
