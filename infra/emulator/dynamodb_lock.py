"""The lock DynamoDB requests are served under, and the writes counted under it.

`behaviour.atomic_writes` serves every DynamoDB request holding LOCK (a
condition and the write it guards must not be split by another request) and
counts the tables each one may write in WRITES. Two speed fixes rely on both:
`speed.index_pages` keeps sorted partitions until the next write to their
table, and `speed.partition_queries` swaps a table's item listing for the
length of one request; each is right only while nothing else runs meanwhile,
and a count read under the lock matches the items.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

LOCK = threading.RLock()
# Writes per table name; None: writes whose tables are not plain, which count against every table.
WRITES: Counter = Counter()

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
