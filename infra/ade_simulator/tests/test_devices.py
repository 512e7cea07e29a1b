"""Fetch and sync: pages, cursors and their errors, op_types, devices released in ABM,
and a server of 100,000 devices."""

from __future__ import annotations

import http.client
import json
from collections import Counter

from .support import USER_AGENT, SimulatorTest, devices

SEVEN_DAYS = 7 * 86400


class FetchTest(SimulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.creds = self.new_server()
        self.key = self.creds["consumer_key"]
        self.token = self.session_token(self.creds)

    def test_2500_devices_come_in_3_pages_of_at_most_1000_with_duplicates_across_pages(self):
        self.add_devices(self.creds, devices(2500))
        self.control("POST", f"/control/servers/{self.key}/options", {"duplicates_across_pages": 3})
        pages, _ = self.fetch_all(self.token, limit=1000)
        self.assertEqual([len(p) for p in pages], [1000, 1000, 506])
        serials = [d["serial_number"] for p in pages for d in p]
        self.assertEqual(len(set(serials)), 2500)
        repeated = sorted(s for s, n in Counter(serials).items() if n > 1)
        self.assertEqual(repeated, [f"SIM{i:08d}" for i in (997, 998, 999, 1994, 1995, 1996)])
        # A page starts with the end of the one before it.
        self.assertEqual([d["serial_number"] for d in pages[1][:3]], [d["serial_number"] for d in pages[0][-3:]])
        self.assertTrue(all("op_type" not in d and "op_date" not in d for p in pages for d in p))
        self.assertEqual(self.state(self.creds)["requests"]["/server/devices"], 3)

    def test_a_page_tells_whether_more_follow_and_when_it_was_fetched(self):
        self.add_devices(self.creds, devices(150))
        first = self.apple("/server/devices", self.token, {}).json()
        self.assertEqual((len(first["devices"]), first["more_to_follow"]), (100, True), "limit 100 by default")
        self.assertRegex(first["fetched_until"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        second = self.apple("/server/devices", self.token, {"cursor": first["cursor"]}).json()
        self.assertEqual((len(second["devices"]), second["more_to_follow"]), (50, False))

    def test_a_limit_above_1000_is_clamped_and_a_bad_one_refused(self):
        self.add_devices(self.creds, devices(1200))
        page = self.apple("/server/devices", self.token, {"limit": 5000}).json()
        self.assertEqual(len(page["devices"]), 1000)
        for limit in (0, -1, "10", 10.5, True, None):
            answer = self.apple("/server/devices", self.token, {"limit": limit})
            self.assertError(answer, 400, "MALFORMED_REQUEST_BODY")

    def test_devices_carry_apples_fields_filled_from_their_family(self):
        self.add_devices(self.creds, [
            {"serial_number": "MAC1", "device_family": "Mac", "model": "MacBook Pro 14\"", "op": "added"},
            {"serial_number": "IPAD1", "device_family": "iPad", "asset_tag": "A-17", "op": "added"},
            {"serial_number": "TV1", "device_family": "AppleTV", "op": "added"},
        ])
        by_serial = {d["serial_number"]: d for d in self.fetch_all(self.token)[0][0]}
        mac, ipad, tv = by_serial["MAC1"], by_serial["IPAD1"], by_serial["TV1"]
        self.assertEqual((mac["os"], mac["device_family"], mac["model"]), ("OSX", "Mac", 'MacBook Pro 14"'))
        self.assertEqual((ipad["os"], ipad["asset_tag"]), ("iPadOS", "A-17"))
        self.assertEqual(tv["os"], "tvOS")
        for d in (mac, ipad, tv):
            for field in ("model", "description", "color", "os", "device_family", "profile_status",
                          "device_assigned_date", "device_assigned_by"):
                self.assertTrue(d[field], f"{d['serial_number']} has a {field}")
            self.assertEqual(d["profile_status"], "empty")
            self.assertNotIn("profile_uuid", d, "no profile: no profile_uuid, as Apple sends it")
        self.assertNotIn("asset_tag", mac)

    def test_a_cursor_given_to_fetch_after_the_end_is_exhausted(self):
        self.add_devices(self.creds, devices(10))
        _, last = self.fetch_all(self.token)
        answer = self.apple("/server/devices", self.token, {"cursor": last})
        self.assertError(answer, 400, "EXHAUSTED_CURSOR")
        self.assertEqual(answer.body, b'"EXHAUSTED_CURSOR"')
        self.assertTrue(answer.headers["Content-Type"].startswith("application/json"))

    def test_a_page_asked_again_with_its_cursor_is_the_same_page(self):
        # A client that crashed after a page's writes but before saving the next cursor asks again.
        self.add_devices(self.creds, devices(30))
        first = self.apple("/server/devices", self.token, {"limit": 10}).json()
        again = [self.apple("/server/devices", self.token, {"limit": 10, "cursor": first["cursor"]}).json()
                 for _ in range(2)]
        self.assertEqual(again[0]["devices"], again[1]["devices"])
        self.assertEqual(again[0]["devices"][0]["serial_number"], "SIM00000010")

    def test_an_empty_server_fetches_one_empty_page(self):
        page = self.apple("/server/devices", self.token, {"limit": 1000}).json()
        self.assertEqual((page["devices"], page["more_to_follow"]), ([], False))
        self.assertEqual(self.apple("/devices/sync", self.token, {"cursor": page["cursor"]}).status, 200)

    def test_devices_assigned_during_a_fetch_come_by_the_sync_after_it(self):
        self.add_devices(self.creds, devices(20))
        first = self.apple("/server/devices", self.token, {"limit": 10}).json()
        self.add_devices(self.creds, devices(5, start=20))
        rest = self.apple("/server/devices", self.token, {"limit": 1000, "cursor": first["cursor"]}).json()
        fetched = {d["serial_number"] for d in first["devices"] + rest["devices"]}
        self.assertEqual(len(fetched), 20)
        synced = self.apple("/devices/sync", self.token, {"cursor": rest["cursor"]}).json()
        self.assertEqual([d["serial_number"] for d in synced["devices"]], [f"SIM{i:08d}" for i in range(20, 25)])

    def test_a_chunked_body_reads_as_a_whole_and_an_oversized_one_is_refused(self):
        self.add_devices(self.creds, devices(3))
        conn = http.client.HTTPConnection(self.host, timeout=30)
        self.addCleanup(conn.close)
        headers = {"X-ADM-Auth-Session": self.token, "X-Server-Protocol-Version": "3", "User-Agent": USER_AGENT,
                   "Content-Type": "application/json;charset=UTF8"}
        conn.request("POST", "/server/devices", body=iter([b'{"lim', b'it": 2}']), headers=headers,
                     encode_chunked=True)
        resp = conn.getresponse()
        self.assertEqual((resp.status, len(json.loads(resp.read())["devices"])), (200, 2))
        answer = self.request("POST", "/server/devices", None, {**headers, "Content-Length": str(65 * 2**20)})
        self.assertEqual(answer.status, 413)

    def test_malformed_bodies_are_refused(self):
        self.assertError(self.apple("/server/devices", self.token, b"{not json"), 400, "MALFORMED_REQUEST_BODY")
        self.assertError(self.apple("/server/devices", self.token, b"[1, 2]"), 400, "MALFORMED_REQUEST_BODY")
        self.assertError(self.apple("/devices/sync", self.token, b"\xff\xfe"), 400, "MALFORMED_REQUEST_BODY")
        answer = self.apple("/server/devices", self.token, b"{}", Content_Type="text/plain")
        self.assertError(answer, 415, "UNSUPPORTED_MEDIA_TYPE")


class SyncTest(SimulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.creds = self.new_server()
        self.key = self.creds["consumer_key"]
        self.token = self.session_token(self.creds)
        self.add_devices(self.creds, devices(5))
        _, self.cursor = self.fetch_all(self.token)

    def sync(self, cursor: str | None, **body) -> dict:
        answer = self.apple("/devices/sync", self.token, {"cursor": cursor, **body})
        self.assertEqual(answer.status, 200, answer.body)
        return answer.json()

    def test_changes_after_the_fetch_come_with_op_type_and_op_date_a_serial_repeated(self):
        self.add_devices(self.creds, [{"serial_number": "NEW1", "device_family": "iPhone", "op": "added"}])
        self.advance(60)
        self.add_devices(self.creds, [
            {"serial_number": "NEW1", "device_family": "iPhone", "op": "modified", "model": "iPhone 16"},
            {"serial_number": "SIM00000001", "device_family": "iPhone", "op": "deleted"},
            {"serial_number": "ELSEWHERE", "device_family": "Mac", "op": "modified"},
        ])
        page = self.sync(self.cursor)
        got = [(d["serial_number"], d["op_type"]) for d in page["devices"]]
        self.assertEqual(got, [("NEW1", "added"), ("NEW1", "modified"), ("SIM00000001", "deleted"),
                               ("ELSEWHERE", "modified")])
        new1 = [d for d in page["devices"] if d["serial_number"] == "NEW1"]
        self.assertLess(new1[0]["op_date"], new1[1]["op_date"], "the latest op_date is the device's state")
        self.assertEqual(new1[1]["model"], "iPhone 16")
        self.assertFalse(page["more_to_follow"])
        # The next sync starts where this one ended.
        self.assertEqual(self.sync(page["cursor"])["devices"], [])
        # A device ABM moved here from another server (modified, unknown serial) is now assigned here.
        fetched = {d["serial_number"] for p in self.fetch_all(self.token)[0] for d in p}
        self.assertIn("ELSEWHERE", fetched)
        self.assertNotIn("SIM00000001", fetched)

    def test_many_changes_come_in_pages(self):
        self.add_devices(self.creds, devices(250, prefix="BULK"))
        first = self.sync(self.cursor, limit=100)
        self.assertEqual((len(first["devices"]), first["more_to_follow"]), (100, True))
        second = self.sync(first["cursor"], limit=100)
        third = self.sync(second["cursor"], limit=100)
        self.assertEqual((len(third["devices"]), third["more_to_follow"]), (50, False))
        self.assertEqual(len({d["serial_number"] for p in (first, second, third) for d in p["devices"]}), 250)

    def test_a_released_device_vanishes_from_fetch_without_a_sync_event(self):
        self.add_devices(self.creds, [{"serial_number": "SIM00000002", "op": "released"}])
        self.assertEqual(self.sync(self.cursor)["devices"], [])
        fetched = {d["serial_number"] for p in self.fetch_all(self.token)[0] for d in p}
        self.assertEqual(fetched, {f"SIM{i:08d}" for i in (0, 1, 3, 4)})
        self.assertEqual(self.state(self.creds)["devices"], 4)

    def test_a_missing_cursor_is_required(self):
        self.assertError(self.apple("/devices/sync", self.token, {}), 400, "CURSOR_REQUIRED")
        self.assertError(self.apple("/devices/sync", self.token, {"cursor": ""}), 400, "CURSOR_REQUIRED")
        self.assertError(self.apple("/devices/sync", self.token, b""), 400, "CURSOR_REQUIRED")

    def test_a_cursor_changed_in_any_character_is_invalid(self):
        c = self.cursor
        for i in range(len(c)):
            tampered = c[:i] + ("A" if c[i] != "A" else "B") + c[i + 1 :]
            answer = self.apple("/devices/sync", self.token, {"cursor": tampered})
            self.assertError(answer, 400, "INVALID_CURSOR")

    def test_a_truncated_garbled_or_foreign_cursor_is_invalid(self):
        c = self.cursor
        tampered = c[:10] + ("A" if c[10] != "A" else "B") + c[11:]
        other = self.new_server()
        other_token = self.session_token(other)
        _, foreign = self.fetch_all(other_token)
        for cursor in (tampered, c[:-2], c + "AA", "not a cursor", "MTIzNDU2", c + "!", 12345, foreign):
            answer = self.apple("/devices/sync", self.token, {"cursor": cursor})
            self.assertError(answer, 400, "INVALID_CURSOR")
            self.assertEqual(answer.body, b'"INVALID_CURSOR"')
        self.assertError(self.apple("/server/devices", self.token, {"cursor": tampered}), 400, "INVALID_CURSOR")
        # The foreign cursor is fine on its own server.
        self.assertEqual(self.apple("/devices/sync", other_token, {"cursor": foreign}).status, 200)

    def test_a_cursor_older_than_7_days_has_expired(self):
        self.advance(SEVEN_DAYS - 60)
        self.token = self.session_token(self.creds)
        fresh = self.sync(self.cursor)["cursor"]
        self.advance(120)
        self.token = self.session_token(self.creds)
        self.assertError(self.apple("/devices/sync", self.token, {"cursor": self.cursor}), 400, "EXPIRED_CURSOR")
        self.assertEqual(self.sync(fresh)["devices"], [], "a cursor from a recent sync still works")

    def test_a_mid_fetch_cursor_syncs_from_when_the_fetch_began(self):
        first = self.apple("/server/devices", self.token, {"limit": 2}).json()
        self.assertTrue(first["more_to_follow"])
        self.add_devices(self.creds, [{"serial_number": "LATE", "device_family": "iPad", "op": "added"}])
        self.assertEqual([d["serial_number"] for d in self.sync(first["cursor"])["devices"]], ["LATE"])


class ControlDevicesTest(SimulatorTest):
    def test_a_bad_entry_changes_nothing_and_says_what_is_wrong(self):
        creds = self.new_server()
        path = f"/control/servers/{creds['consumer_key']}/devices"
        cases = [
            ({"serial_number": "A", "device_family": "iPhone", "op": "added"}, "JSON list"),
            ([{"serial_number": "", "device_family": "iPhone", "op": "added"}], "serial_number"),
            ([{"serial_number": "A", "device_family": "iPhone", "op": "bought"}], "op must be one of"),
            ([{"serial_number": "A", "op": "added"}], "needs a device_family"),
            ([{"serial_number": "A", "device_family": "iPhone", "op": "added", "colour": "red"}], "unknown field"),
            ([{"serial_number": "A", "device_family": 7, "op": "added"}], "must be a string"),
        ]
        for body, message in cases:
            sent = devices(1) + body if isinstance(body, list) else body
            answer = self.request("POST", path, json.dumps(sent).encode())
            self.assertEqual(answer.status, 400, body)
            self.assertIn(message, answer.json()["error"])
        self.assertEqual(self.state(creds)["devices"], 0, "a refused request changes nothing")

    def test_an_unknown_server_is_a_404_that_says_how_to_make_one(self):
        answer = self.request("POST", "/control/servers/CK_nope/devices", b"[]")
        self.assertEqual(answer.status, 404)
        self.assertIn("POST /control/servers", answer.json()["error"])

    def test_the_summary_counts_each_op(self):
        creds = self.new_server()
        summary = self.add_devices(creds, devices(3) + [{"serial_number": "SIM00000000", "op": "released"}])
        self.assertEqual(summary, {"added": 3, "modified": 0, "deleted": 0, "released": 1, "devices": 2, "events": 3})


class ScaleTest(SimulatorTest):
    def test_100000_devices_in_one_call_then_fetched_in_100_pages(self):
        creds = self.new_server()
        families = ("iPhone", "iPad", "Mac", "AppleTV")
        entries = [{"serial_number": f"C{i:011d}", "device_family": families[i % 4], "op": "added"}
                   for i in range(100_000)]
        self.assertEqual(self.add_devices(creds, entries)["devices"], 100_000)
        pages, cursor = self.fetch_all(self.session_token(creds), limit=1000)
        self.assertEqual(len(pages), 100)
        self.assertEqual(len({d["serial_number"] for p in pages for d in p}), 100_000)
        self.assertEqual(self.state(creds)["requests"]["/server/devices"], 100)
