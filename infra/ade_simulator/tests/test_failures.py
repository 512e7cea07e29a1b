"""Scripted failures: Apple's throttling, outages, terms and cursor errors, on cue."""

from __future__ import annotations

import json
import time

from .support import SimulatorTest, devices


class ScriptedFailureTest(SimulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.creds = self.new_server()
        self.key = self.creds["consumer_key"]
        self.add_devices(self.creds, devices(3))
        self.token = self.session_token(self.creds)
        _, self.cursor = self.fetch_all(self.token)

    def script(self, rule) -> dict:
        return self.control("POST", f"/control/servers/{self.key}/failures", rule)

    def test_a_429_with_retry_after_then_normal_service(self):
        self.script({"path": "/devices/sync", "status": 429, "retry_after": 2, "times": 1})
        answer = self.apple("/devices/sync", self.token, {"cursor": self.cursor})
        self.assertError(answer, 429, "TOO_MANY_REQUESTS")
        self.assertEqual(answer.headers["Retry-After"], "2")
        self.assertEqual(self.apple("/devices/sync", self.token, {"cursor": self.cursor}).status, 200)

    def test_a_rule_fires_only_on_its_path(self):
        self.script({"path": "/devices/sync", "status": 503})
        self.assertEqual(self.apple("/account", self.token).status, 200)
        self.assertEqual(self.state(self.creds)["failures_pending"][0]["times"], 1)
        self.assertError(self.apple("/devices/sync", self.token, {"cursor": self.cursor}), 503, "SERVICE_UNAVAILABLE")
        self.assertEqual(self.state(self.creds)["failures_pending"], [])

    def test_a_scripted_403_t_c_not_signed(self):
        self.script({"path": "/server/devices", "status": 403, "body": "T_C_NOT_SIGNED"})
        answer = self.apple("/server/devices", self.token, {})
        self.assertError(answer, 403, "T_C_NOT_SIGNED")
        self.assertEqual(answer.body, b"T_C_NOT_SIGNED", "plain text, as Apple sends it")

    def test_5xx_on_every_path_including_the_session(self):
        self.script([{"path": "*", "status": 500, "times": 2}, {"path": "*", "status": 502}])
        self.assertError(self.session(self.creds), 500, "INTERNAL_SERVER_ERROR")
        self.assertError(self.apple("/account", self.token), 500, "INTERNAL_SERVER_ERROR")
        self.assertError(self.apple("/account", self.token), 502, "BAD_GATEWAY")
        self.assertEqual(self.apple("/account", self.token).status, 200)

    def test_a_scripted_401_is_answered_by_authenticating_again(self):
        self.script({"path": "/account", "status": 401})
        self.assertError(self.apple("/account", self.token), 401, "UNAUTHORIZED")
        self.assertEqual(self.apple("/account", self.session_token(self.creds)).status, 200)

    def test_scripted_cursor_errors_come_as_apple_writes_them(self):
        self.script([{"path": "/devices/sync", "status": 400, "body": "EXPIRED_CURSOR"},
                     {"path": "/devices/sync", "status": 400, "body": "INVALID_CURSOR"}])
        expired = self.apple("/devices/sync", self.token, {"cursor": self.cursor})
        self.assertEqual((expired.status, expired.body), (400, b'"EXPIRED_CURSOR"'))
        self.assertError(self.apple("/devices/sync", self.token, {"cursor": self.cursor}), 400, "INVALID_CURSOR")

    def test_a_delay_answers_late_then_normally(self):
        self.script({"path": "/account", "delay_seconds": 0.4})
        t0 = time.monotonic()
        self.assertEqual(self.apple("/account", self.token).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)

    def test_a_scripted_failure_counts_as_a_request(self):
        self.script({"path": "/account", "status": 503, "times": 2})
        for _ in range(3):
            self.apple("/account", self.token)
        self.assertEqual(self.state(self.creds)["requests"]["/account"], 3)

    def test_clear_drops_pending_failures(self):
        self.script({"status": 503, "times": 5})
        self.assertEqual(self.script({"clear": True})["failures_pending"], [])
        self.assertEqual(self.apple("/account", self.token).status, 200)

    def test_a_bad_rule_is_refused_and_nothing_of_the_request_applies(self):
        for rule in ({"path": "/nowhere", "status": 500}, {"status": 200}, {"path": "*"},
                     {"status": 503, "times": 0}, {"status": 429, "retry_after": "soon"},
                     {"status": 500, "colour": "red"}, [{"terms": False}, {"status": "500"}], {"terms": "no"}):
            answer = self.request("POST", f"/control/servers/{self.key}/failures",
                                  json.dumps(rule).encode())
            self.assertEqual(answer.status, 400, rule)
        state = self.state(self.creds)
        self.assertEqual((state["failures_pending"], state["terms_accepted"]), ([], True))
