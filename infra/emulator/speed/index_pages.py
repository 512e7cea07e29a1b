"""A page of a global secondary index costs its own items, not the table's.

moto answers every Query of an index by sorting the whole table, keeping the
partition, sorting it again and walking it from the start to the exclusive
start key: a page of 50 took 1.4 s with 100,000 devices (3.3 s with a serial
prefix), so a million-device console or export could not be measured. Here
each (table, index) keeps its partitions sorted until the next write to the
table (`dynamodb_lock.WRITES`), a page starts by bisection, and a
`begins_with` range stops at the prefix's end; a descending page without a
range condition (the import history, newest first) walks the partition
backwards. Anything else (other key shapes, a descending range condition, old
parameters) takes moto's own path.

The kept partitions are right only while requests are served one at a time
(`dynamodb_lock`, which `behaviour.atomic_writes` installs): the write counts
are read and the partitions built under the same lock as the writes.
"""

from __future__ import annotations

import bisect
from typing import Any

from ..dynamodb_lock import WRITES
from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

    query = Table.query
    cache: dict[tuple[int, str], tuple[tuple[int, int], dict[Any, tuple[list[Any], list[Any]]]]] = {}

    def partitions(table: Any, index: Any, hash_attr: str, range_attr: str) -> dict[Any, tuple[list[Any], list[Any]]]:
        key = (id(table), index.name)
        generation = (WRITES[None], WRITES[table.name])
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

    Table.query = fast_query
