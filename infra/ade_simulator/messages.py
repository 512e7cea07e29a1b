"""A request as the routes see it and the answer they give, free of the HTTP server's types."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message

from .errors import JSON_TYPE, ApiError, ControlError


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes
    # Host as the client called it (for the OAuth base string URI).
    host: str


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (a scripted slow answer); never under the state's lock.
    delay: float = 0.0

    @classmethod
    def json(cls, value: object, status: int = 200, **headers: str) -> Response:
        return cls(status, json.dumps(value, separators=(",", ":")).encode(), headers=dict(headers))

    @classmethod
    def api_error(cls, error: ApiError) -> Response:
        body, content_type = error.body()
        return cls(error.status, body, content_type, error.headers())

    @classmethod
    def control_error(cls, error: ControlError) -> Response:
        return cls.json({"error": error.message}, error.status)
