"""A conditional write is atomic: two can never both pass their condition.

moto serves requests on threads without a lock, so two conditional writes to
one item (a PutItem with `attribute_not_exists`, an UpdateItem with a counter
bound) can both read the item before either writes it, and both succeed.
DynamoDB never allows that, and the invite claims rely on it. Here every
DynamoDB request is served holding one lock (`dynamodb_lock`), and the tables
it may write are counted there, for the speed fixes that keep work until the
next write.
"""

from __future__ import annotations

from typing import Any

from ..dynamodb_lock import LOCK, READ_ACTIONS, WRITES, written_tables
from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action

    def atomic_call_action(self: Any) -> Any:
        with LOCK:
            # By the time moto calls its action, it has parsed the request into `params`.
            action = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
            if action not in READ_ACTIONS:
                for table in written_tables(action, getattr(self, "params", None)):
                    WRITES[table] += 1
            return call_action(self)

    DynamoHandler.call_action = atomic_call_action
