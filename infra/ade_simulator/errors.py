"""Apple's error answers, and how each one's body is written.

Apple answers an error with a status and a short code in the body; clients
match the code by substring. Some codes come as a bare JSON string
(`"INVALID_CURSOR"`, and the OAuth problems of `/session` such as
`"signature_invalid"`), others as plain text (`UNAUTHORIZED`, `T_C_NOT_SIGNED`).
`ApiError.body()` writes each the way it comes, so a client that parsed only
one of the two forms fails here as it would against Apple.
"""

from __future__ import annotations

import json

JSON_TYPE = "application/json;charset=UTF8"
TEXT_TYPE = "text/plain;charset=UTF8"

# Codes Apple sends as a JSON string; every other code is plain text.
QUOTED_CODES = frozenset(
    {
        "CURSOR_REQUIRED",
        "INVALID_CURSOR",
        "EXHAUSTED_CURSOR",
        "EXPIRED_CURSOR",
        "MALFORMED_REQUEST_BODY",
        # The OAuth problems (RFC 5849's problem reporting names) of GET /session.
        "parameter_absent",
        "parameter_rejected",
        "signature_method_rejected",
        "version_rejected",
        "consumer_key_unknown",
        "token_rejected",
        "token_expired",
        "signature_invalid",
        "timestamp_refused",
        "nonce_used",
    }
)

# What a scripted failure answers when the script gives no body.
DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class ApiError(Exception):
    """An answer other than 200 on Apple's side."""

    def __init__(self, status: int, code: str, retry_after: int | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def body(self) -> tuple[bytes, str]:
        """(body, content type) as Apple writes this code."""
        if self.code in QUOTED_CODES:
            return json.dumps(self.code).encode(), JSON_TYPE
        return self.code.encode(), TEXT_TYPE

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class ControlError(Exception):
    """A refused control request: 4xx with a JSON body saying what is wrong and how to fix it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
