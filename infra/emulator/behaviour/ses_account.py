"""SES v2 `GetAccount` answers a sending quota, and sends can be throttled or refused.

moto has no `GetAccount` handler, and its SendEmail never throttles: a sender
that paces itself by the account's quota, and backs off when SES throttles
it, could not be run locally. Here the account has a quota (set at start, or
by `POST /moto-api/static/ses/account` with `max_send_rate`,
`max_24_hour_send`) and counts what it sends per second; the same POST
injects throttling (`throttle_next`: the next N sends fail with
TooManyRequestsException) and refuses chosen recipients for good (`reject`,
MessageRejected, as the SES sandbox refuses unverified ones). `GET` on the
same path returns the quota and the sends counted per second, for the tests
and the benchmark.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from ..moto_version import written_against

written_against(__name__, "5.2.5")


class SesAccount:
    """The account's SES quota and what was sent, per epoch second."""

    def __init__(self, max_send_rate: float, max_24h: float):
        self.lock = threading.Lock()
        self.max_send_rate = max_send_rate
        self.max_24h = max_24h
        self.per_second: Counter[int] = Counter()
        self.throttle_next = 0
        self.throttled = 0
        self.reject: set[str] = set()

    def sent_last_24h(self) -> int:
        since = int(time.time()) - 86400
        return sum(n for s, n in self.per_second.items() if s > since)

    def admit(self, recipients: list[str]) -> tuple[str, str] | None:
        """None if the send goes out (and is counted), else (error code, message)."""
        with self.lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.throttled += 1
                return "TooManyRequestsException", "Maximum sending rate exceeded."
            if any(r.lower() in self.reject for r in recipients):
                return "MessageRejected", "Email address is not verified."
            self.per_second[int(time.time())] += 1
            return None

    def configure(self, body: dict[str, Any]) -> None:
        with self.lock:
            if "max_send_rate" in body:
                self.max_send_rate = float(body["max_send_rate"])
            if "max_24_hour_send" in body:
                self.max_24h = float(body["max_24_hour_send"])
            if "throttle_next" in body:
                self.throttle_next = int(body["throttle_next"])
            if "reject" in body:
                # Added to, not replaced: tests running side by side each refuse their own.
                self.reject |= {str(r).lower() for r in body["reject"]}
            if body.get("reset_counts"):
                self.per_second.clear()
                self.throttled = 0

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "max_send_rate": self.max_send_rate,
                "max_24_hour_send": self.max_24h,
                "sent_last_24_hours": self.sent_last_24h(),
                "throttled": self.throttled,
                "sends_per_second": {str(s): n for s, n in sorted(self.per_second.items())},
            }


def apply(account: SesAccount) -> None:
    from moto.moto_api._internal import urls as api_urls
    from moto.sesv2 import urls as sesv2_urls
    from moto.sesv2.responses import SESV2Response

    def get_account(self: Any) -> str:
        r = account.report()
        sent = r["sent_last_24_hours"]
        return json.dumps(
            {
                "DedicatedIpAutoWarmupEnabled": False,
                "EnforcementStatus": "HEALTHY",
                "ProductionAccessEnabled": True,
                "SendingEnabled": True,
                "SendQuota": {
                    "Max24HourSend": r["max_24_hour_send"],
                    "MaxSendRate": r["max_send_rate"],
                    "SentLast24Hours": float(sent),
                },
            }
        )

    send_email = SESV2Response.send_email

    def admitted_send_email(self: Any) -> Any:
        params = json.loads(self.body or "{}")
        dest = params.get("Destination", {})
        recipients = dest.get("ToAddresses", []) + dest.get("CcAddresses", []) + dest.get("BccAddresses", [])
        refused = account.admit(recipients)
        if refused:
            code, message = refused
            status = 429 if code == "TooManyRequestsException" else 400
            return json.dumps({"message": message}), {"status": status, "x-amzn-ErrorType": code}
        return send_email(self)

    SESV2Response.get_account = get_account
    sesv2_urls.url_paths["{0}/v2/email/account$"] = SESV2Response.dispatch
    SESV2Response.send_email = admitted_send_email

    def account_route(request: Any, full_url: str, headers: Any) -> Any:
        if request.method == "POST":
            # get_data: the raw body whatever the content type (curl -d sends a form's).
            raw = request.get_data() if hasattr(request, "get_data") else request.body
            account.configure(json.loads(raw or b"{}"))
        return 200, {"Content-Type": "application/json"}, json.dumps(account.report())

    api_urls.url_paths["{0}/moto-api/static/ses/account"] = account_route
