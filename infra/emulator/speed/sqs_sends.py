"""Sending to and receiving from a long SQS queue is not quadratic.

For each message it takes or hands out, moto computes every queue attribute
(three counts over all the messages) to read one; here it reads that one.
"""

from __future__ import annotations

import threading
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.core.utils import unix_time
    from moto.sqs import models as sqs_models

    # moto asks get_queue_attributes for MessageRetentionPeriod alone, which computes them all.
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
