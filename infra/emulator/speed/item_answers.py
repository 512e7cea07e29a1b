"""Items are answered as JSON, not walked through moto's model serializer.

moto 5.2 builds every answer by walking botocore's shape model value by value:
a Query of 500 items with a nested map each spent ~0.5 s there, 80 % of the
request, so each item a page returns cost the emulator about 1 ms (a 50-device
list page 9-10 x a GetItem, an export 644 devices/s). The stream's GetRecords
is the same walk over two images per write: seeding devices, 68 % of the
emulator's CPU went there (py-spy --gil). The JSON protocol's answer for these
is the result as it is (attribute values are already `{"S": ...}` maps), so it
is encoded once; timestamps as epoch seconds, as moto's serializer writes
them. A binary attribute (base64 in the answer) or anything else `json` cannot
encode takes moto's own path.
"""

from __future__ import annotations

import calendar
import datetime
import json
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")

# Answers made of items, per service.
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


def apply() -> None:
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
