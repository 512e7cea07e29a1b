"""GET /session and what every other call needs: the anonymous caller, a stolen or stale
credential, a replayed request, and the headers Apple insists on."""

from __future__ import annotations

import time

from ade_simulator.oauth import base_string_uri

from .support import USER_AGENT, SimulatorTest, devices, openssl_decrypt, sign, token_json


class SessionTest(SimulatorTest):
    def test_a_correctly_signed_request_gets_a_session_that_opens_the_account(self):
        creds = self.new_server(server_name="Preapprove Prod", org_name="Acme Schools")
        answer = self.session(creds)
        self.assertEqual(answer.status, 200, answer.body)
        token = answer.json()["auth_session_token"]
        account = self.apple("/account", token)
        self.assertEqual(account.status, 200, account.body)
        self.assertTrue(account.headers["Content-Type"].startswith("application/json"))
        value = account.json()
        for field in ("server_name", "server_uuid", "admin_id", "facilitator_id", "org_name", "org_email",
                      "org_phone", "org_address", "org_id", "org_id_hash", "org_type", "org_version", "urls"):
            self.assertIn(field, value)
        self.assertEqual((value["server_name"], value["org_name"]), ("Preapprove Prod", "Acme Schools"))
        fetch = next(u for u in value["urls"] if u["uri"] == "/server/devices")
        self.assertEqual((fetch["http_method"], fetch["limit"]), (["POST"], {"default": 100, "maximum": 1000}))
        self.assertEqual(self.state(creds)["sessions_issued"], 1)

    def test_two_servers_of_one_organisation_share_its_org_id_not_their_uuid(self):
        a, b = self.new_server(org_name="Acme"), self.new_server(org_name="Acme")
        first = self.apple("/account", self.session_token(a)).json()
        second = self.apple("/account", self.session_token(b)).json()
        self.assertEqual(first["org_id"], second["org_id"])
        self.assertNotEqual(first["server_uuid"], second["server_uuid"])

    def test_a_bad_signature_is_refused(self):
        creds = self.new_server()
        wrong = {**creds, "access_secret": creds["access_secret"] + "x"}
        self.assertError(self.session(wrong), 401, "signature_invalid")
        wrong = {**creds, "consumer_secret": "CS_guess"}
        self.assertError(self.session(wrong), 401, "signature_invalid")
        # A signature made for another URL (the base string is the URL the client called).
        header = sign("GET", "http://mdmenrollment.apple.com/session", creds)
        self.assertError(self.request("GET", "/session", headers={"Authorization": header}), 401, "signature_invalid")
        # A changed parameter after signing.
        self.assertError(self.session(creds, oauth_timestamp=str(int(time.time()) + 1)), 401, "signature_invalid")

    def test_a_reused_nonce_is_refused(self):
        creds = self.new_server()
        now = int(time.time())
        self.assertEqual(self.session(creds, timestamp=now, nonce="abc123").status, 200)
        self.assertError(self.session(creds, timestamp=now, nonce="abc123"), 401, "nonce_used")
        self.assertError(self.session(creds, timestamp=now + 1, nonce="abc123"), 401, "nonce_used")

    def test_a_replayed_request_is_refused_even_word_for_word(self):
        creds = self.new_server()
        uri = base_string_uri("http", self.host, "/session")
        header = sign("GET", uri, creds)
        self.assertEqual(self.request("GET", "/session", headers={"Authorization": header}).status, 200)
        self.assertError(self.request("GET", "/session", headers={"Authorization": header}), 401, "nonce_used")

    def test_an_old_or_future_timestamp_is_refused(self):
        creds = self.new_server()
        self.assertError(self.session(creds, timestamp=int(time.time()) - 3600), 401, "timestamp_refused")
        self.assertError(self.session(creds, timestamp=int(time.time()) + 3600), 401, "timestamp_refused")
        self.assertEqual(self.session(creds, timestamp=int(time.time()) - 60).status, 200)

    def test_the_timestamp_is_the_clients_clock_so_moving_the_simulated_one_locks_nobody_out(self):
        creds = self.new_server()
        self.advance(8 * 86400)
        self.assertEqual(self.session(creds).status, 200)

    def test_an_unknown_consumer_key_is_refused(self):
        creds = self.new_server()
        self.assertError(self.session({**creds, "consumer_key": "CK_unknown"}), 401, "consumer_key_unknown")

    def test_an_expired_token_is_refused(self):
        creds = self.new_server(expires_in_days=-1)
        self.assertError(self.session(creds), 401, "token_expired")

    def test_a_token_expires_a_year_after_download_by_the_simulated_clock(self):
        creds = self.new_server()
        self.assertEqual(self.session(creds).status, 200)
        self.advance(366 * 86400)
        self.assertError(self.session(creds), 401, "token_expired")

    def test_an_unauthenticated_caller_burns_no_nonce(self):
        creds = self.new_server()
        now = int(time.time())
        wrong = {**creds, "access_secret": "AS_guess"}
        self.assertError(self.session(wrong, timestamp=now, nonce="n-1"), 401, "signature_invalid")
        self.assertEqual(self.session(creds, timestamp=now, nonce="n-1").status, 200)

    def test_malformed_oauth_parameters_are_a_400(self):
        creds = self.new_server()
        self.assertError(self.request("GET", "/session"), 400, "parameter_absent")
        self.assertError(self.session(creds, oauth_signature_method="PLAINTEXT"), 400, "signature_method_rejected")
        # The code comes as a JSON string, as Apple writes it.
        answer = self.request("GET", "/session")
        self.assertEqual(answer.body, b'"parameter_absent"')

    def test_a_renewed_token_replaces_the_old_one_and_keeps_the_devices(self):
        first = self.new_server()
        self.add_devices(first, devices(3))
        token = self.session_token(first)
        _, cursor = self.fetch_all(token)
        answer = self.request("POST", f"/control/servers/{first['consumer_key']}/token", self.keys.cert_pem)
        self.assertEqual(answer.status, 200, answer.body)
        second = token_json(openssl_decrypt(answer.body, self.keys.key_pem))
        self.assertEqual(second["consumer_key"], first["consumer_key"])
        self.assertNotEqual(second["access_token"], first["access_token"])
        self.assertNotEqual(second["consumer_secret"], first["consumer_secret"])
        self.assertError(self.session(first), 401, "token_rejected")
        token = self.session_token(second)
        self.assertEqual(len(self.fetch_all(token)[0][0]), 3)
        self.add_devices(second, devices(1, start=3))
        synced = self.apple("/devices/sync", token, {"cursor": cursor})
        self.assertEqual(synced.status, 200, synced.body)
        self.assertEqual([d["serial_number"] for d in synced.json()["devices"]], ["SIM00000003"])

    def test_a_renewal_without_a_certificate_uses_the_one_uploaded(self):
        creds = self.new_server()
        answer = self.request("POST", f"/control/servers/{creds['consumer_key']}/token")
        self.assertEqual(answer.status, 200, answer.body)
        self.assertIn("_Token_", answer.headers["Content-Disposition"])


class CallHeadersTest(SimulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.creds = self.new_server()
        self.token = self.session_token(self.creds)

    def test_a_missing_or_unknown_session_is_unauthorized(self):
        self.assertError(self.apple("/account", "", X_ADM_Auth_Session=None), 401, "UNAUTHORIZED")
        self.assertError(self.apple("/account", "made-up"), 401, "UNAUTHORIZED")
        self.assertError(self.apple("/server/devices", "made-up", {}), 401, "UNAUTHORIZED")

    def test_a_session_expires_after_30_minutes_of_the_simulated_clock(self):
        self.assertEqual(self.apple("/account", self.token).status, 200)
        self.advance(29 * 60)
        self.assertEqual(self.apple("/account", self.token).status, 200)
        self.advance(61)
        self.assertError(self.apple("/account", self.token), 401, "UNAUTHORIZED")
        self.assertEqual(self.apple("/account", self.session_token(self.creds)).status, 200)

    def test_a_server_may_have_shorter_sessions(self):
        self.control("POST", f"/control/servers/{self.creds['consumer_key']}/options", {"session_ttl_seconds": 60})
        token = self.session_token(self.creds)
        self.advance(61)
        self.assertError(self.apple("/account", token), 401, "UNAUTHORIZED")

    def test_expiring_a_servers_sessions_ends_them_now(self):
        expired = self.control("POST", f"/control/servers/{self.creds['consumer_key']}/sessions/expire")
        self.assertEqual(expired, {"expired": 1})
        self.assertError(self.apple("/account", self.token), 401, "UNAUTHORIZED")

    def test_a_missing_or_library_default_user_agent_is_a_400(self):
        self.assertError(self.apple("/account", self.token, User_Agent=None), 400, "USER_AGENT_MISSING")
        self.assertError(self.apple("/account", self.token, User_Agent="  "), 400, "USER_AGENT_MISSING")
        for agent in ("reqwest/0.12.9", "python-requests/2.32.3", "Go-http-client/1.1", "curl/8.5.0",
                      "Python-urllib/3.11", "okhttp/4.12.0"):
            self.assertError(self.apple("/account", self.token, User_Agent=agent), 400, "USER_AGENT_INVALID")
        self.assertEqual(self.apple("/account", self.token, User_Agent="Jamf Pro/11.4 reqwest/0.12").status, 200)

    def test_the_server_protocol_version_must_be_3_to_10(self):
        for version in (None, "", "2", "11", "three"):
            answer = self.apple("/account", self.token, X_Server_Protocol_Version=version)
            self.assertError(answer, 400, "INVALID_PROTOCOL_VERSION")
        for version in ("3", "7", "10"):
            self.assertEqual(self.apple("/account", self.token, X_Server_Protocol_Version=version).status, 200)

    def test_a_rotated_session_replaces_the_old_one_after_that_answer(self):
        key = self.creds["consumer_key"]
        self.control("POST", f"/control/servers/{key}/options", {"rotate_session_every": 2})
        self.assertIsNone(self.apple("/account", self.token).headers["X-ADM-Auth-Session"])
        second = self.apple("/account", self.token)
        self.assertEqual(second.status, 200)
        rotated = second.headers["X-ADM-Auth-Session"]
        self.assertTrue(rotated and rotated != self.token)
        self.assertError(self.apple("/account", self.token), 401, "UNAUTHORIZED")
        self.assertEqual(self.apple("/account", rotated).status, 200)

    def test_terms_not_accepted_refuse_every_call_until_accepted(self):
        key = self.creds["consumer_key"]
        self.control("POST", f"/control/servers/{key}/failures", {"terms": False})
        self.assertError(self.apple("/account", self.token), 403, "T_C_NOT_SIGNED")
        self.assertError(self.apple("/server/devices", self.token, {}), 403, "T_C_NOT_SIGNED")
        self.assertError(self.session(self.creds), 403, "T_C_NOT_SIGNED")
        self.assertFalse(self.state(self.creds)["terms_accepted"])
        self.control("POST", f"/control/servers/{key}/failures", {"terms": True})
        self.assertEqual(self.apple("/account", self.token).status, 200)

    def test_unknown_routes_and_wrong_methods(self):
        self.assertError(self.apple("/profile", self.token), 404, "NOT_FOUND")
        answer = self.request("POST", "/account", b"{}", {"User-Agent": USER_AGENT})
        self.assertError(answer, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(answer.headers["Allow"], "GET")

    def test_the_answer_names_no_simulator(self):
        answer = self.apple("/account", self.token)
        self.assertEqual(answer.headers["Server"], "Apple")
        self.assertNotIn(b"simulat", answer.body.lower())
