"""Opaque, unforgeable cursors: where a fetch or a sync stands, signed by the simulator.

A cursor is base64url of a fixed binary record followed by a truncated
HMAC-SHA256 of it under a key this process draws at start. A client can
neither read nor make one: changing any character, or giving one server's
cursor to another, answers `INVALID_CURSOR`, as Apple does. (A simulator
started again draws a new key: its old cursors are invalid, as its state is gone.)

The record:
- kind: FETCH (a fetch page's cursor, more to follow) or SYNC (the cursor to
  sync from: the last page of a fetch, or any sync page);
- server: the MDM server's id (kept when its token is renewed);
- position: FETCH, the assignment number of the last device served;
  SYNC, the number of sync events already delivered;
- end: FETCH only, the assignment number the fetch stops at (devices assigned
  after the fetch began arrive by sync);
- events: FETCH only, the number of sync events when the fetch began (the sync
  that follows starts there);
- issued: when it was issued, on the simulated clock (a sync cursor older than
  seven days answers `EXPIRED_CURSOR`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass

from .errors import ApiError

FETCH = 1
SYNC = 2
_VERSION = 1
_RECORD = struct.Struct(">BB16sQQQq")
_MAC_BYTES = 16
_ALPHABET = re.compile(r"[A-Za-z0-9_-]{1,200}")


@dataclass(frozen=True)
class Cursor:
    kind: int
    server: bytes
    position: int
    end: int = 0
    events: int = 0
    issued_ms: int = 0


class CursorCodec:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _mac(self, record: bytes) -> bytes:
        return hmac.new(self._key, record, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, cursor: Cursor) -> str:
        record = _RECORD.pack(
            _VERSION, cursor.kind, cursor.server, cursor.position, cursor.end, cursor.events, cursor.issued_ms
        )
        return base64.urlsafe_b64encode(record + self._mac(record)).decode().rstrip("=")

    def decode(self, text: object, server: bytes) -> Cursor:
        """The cursor `text` names, if this simulator made it for `server`; else 400 INVALID_CURSOR."""
        # Strictly base64url: the decoder would skip any other character, so a
        # cursor with one inserted would read as the one it was made from.
        if not isinstance(text, str) or not _ALPHABET.fullmatch(text):
            raise ApiError(400, "INVALID_CURSOR")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise ApiError(400, "INVALID_CURSOR") from None
        record, mac = raw[: _RECORD.size], raw[_RECORD.size :]
        if len(raw) != _RECORD.size + _MAC_BYTES or not hmac.compare_digest(mac, self._mac(record)):
            raise ApiError(400, "INVALID_CURSOR")
        version, kind, owner, position, end, events, issued_ms = _RECORD.unpack(record)
        if version != _VERSION or kind not in (FETCH, SYNC) or owner != server:
            raise ApiError(400, "INVALID_CURSOR")
        return Cursor(kind, owner, position, end, events, issued_ms)
