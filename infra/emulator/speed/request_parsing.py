"""A DynamoDB request is read as the JSON it is, not walked through the model.

moto parses every request by walking botocore's input shape member by member
(and tries the JSON body as a query string first): seeding devices, the parse
was 13 % of the emulator's CPU, most of it over the items of BatchWriteItem.
For DynamoDB's JSON protocol the walk changes nothing but blobs (base64
decoded), nulls (dropped) and members the model does not know (dropped), so a
body with none of these is taken as `json` reads it.
"""

from __future__ import annotations

import json
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler

    parse = DynamoHandler.parse_parameters
    members: dict[str, frozenset[str]] = {}

    def known(action: str) -> frozenset[str]:
        if action not in members:
            try:
                shape = get_service_model("dynamodb").operation_model(action).input_shape
                members[action] = frozenset(shape.members) if shape is not None else frozenset()
            except Exception:  # noqa: BLE001 (an unknown action: moto's own parse answers it)
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
