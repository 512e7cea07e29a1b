"""A Query of one partition of a table reads that partition, not the table.

moto sorts every item of the table for a Query of one partition: with an
import's before-images (hundreds of thousands of items in the imports table)
each page took seconds. Here moto's own query runs on the partition alone,
handed to it as the table's item listing for the length of the request, which
is right only while requests are served one at a time (`dynamodb_lock`, which
`behaviour.atomic_writes` installs). Queries of an index take moto's path (or
`index_pages`).
"""

from __future__ import annotations

from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.dynamodb.models.table import Table

    query = Table.query

    def partition_query(self: Any, hash_key: Any, range_comparison: Any, range_objs: list[Any], limit: int,
                        exclusive_start_key: Any, scan_index_forward: bool, projection_expressions: Any,
                        index_name: str | None = None, consistent_read: bool = False,
                        filter_expression: Any = None, hash_key_conditions: Any = None,
                        range_key_conditions: Any = None, **filter_kwargs: Any) -> Any:
        args = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression)
        kwargs = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                  **filter_kwargs}
        if index_name or not self.range_key_attr or len(hash_key_conditions or []) != 1:
            return query(*args, **kwargs)
        part = self.items.get(hash_key_conditions[0][1])
        items = sorted(part.values(), key=lambda x: x.range_key) if part else []
        self.all_items = lambda: items
        try:
            return query(*args, **kwargs)
        finally:
            del self.all_items

    Table.query = partition_query
