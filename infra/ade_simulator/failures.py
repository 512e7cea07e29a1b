"""Scripted failures: the next calls to a path answer an error (or answer late), then normal service resumes.

A rule, as `POST /control/servers/{consumer_key}/failures` takes it:
`{"path": "/devices/sync" | "*", "status": 429, "body": "TOO_MANY_REQUESTS",
"retry_after": 2, "delay_seconds": 0, "times": 1}`. `status` or `delay_seconds`
is required (a rule with only a delay answers normally, late: a client's
timeout); `body` defaults to Apple's code for the status. Rules fire in the
order given, each `times` times, before the call is authenticated (as a load
balancer's 503 would), on calls that name the server (by its session or, for
/session, its consumer key).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import DEFAULT_CODES, ControlError

APPLE_PATHS = ("/session", "/account", "/server/devices", "/devices/sync")
_FIELDS = {"path", "status", "body", "retry_after", "delay_seconds", "times"}


@dataclass
class Rule:
    path: str
    status: int | None
    body: str | None
    retry_after: int | None
    delay_seconds: float
    times: int

    def describe(self) -> dict:
        return asdict(self)


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ControlError(400, f"{name} must be a whole number from {low} to {high}")
    return value


def parse_rule(spec: dict) -> Rule:
    unknown = set(spec) - _FIELDS
    if unknown:
        raise ControlError(400, f"unknown failure field(s) {sorted(unknown)}: use {sorted(_FIELDS)}")
    path = spec.get("path", "*")
    if path != "*" and path not in APPLE_PATHS:
        raise ControlError(400, f"path must be * or one of {list(APPLE_PATHS)}")
    status = spec.get("status")
    if status is not None:
        status = _int(status, "status", 400, 599)
    delay = spec.get("delay_seconds", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 300:
        raise ControlError(400, "delay_seconds must be a number from 0 to 300")
    if status is None and not delay:
        raise ControlError(400, "a failure needs a status (e.g. 503) or a delay_seconds")
    body = spec.get("body")
    if body is not None and (not isinstance(body, str) or not body):
        raise ControlError(400, "body must be a non-empty string, e.g. T_C_NOT_SIGNED")
    if status is not None and body is None:
        body = DEFAULT_CODES.get(status, "ERROR")
    retry_after = spec.get("retry_after")
    if retry_after is not None:
        retry_after = _int(retry_after, "retry_after", 0, 86400)
    times = _int(spec.get("times", 1), "times", 1, 1_000_000)
    return Rule(path, status, body, retry_after, float(delay), times)


def take(rules: list[Rule], path: str) -> Rule | None:
    """The first rule for `path`, used once."""
    for i, rule in enumerate(rules):
        if rule.path in ("*", path):
            rule.times -= 1
            if rule.times == 0:
                del rules[i]
            return rule
    return None
