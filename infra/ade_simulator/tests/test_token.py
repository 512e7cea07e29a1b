"""The server token file, as ABM's "Download Token" gives it, read with the openssl CLI."""

from __future__ import annotations

import base64
import datetime
import re
import subprocess
import tempfile
from pathlib import Path

from .support import SimulatorTest, key_pair, openssl_decrypt, token_json


def der_of(p7m: bytes) -> bytes:
    headers, _, body = p7m.partition(b"\r\n\r\n")
    return base64.b64decode(b"".join(body.split()))


class TokenFileTest(SimulatorTest):
    def download(self, query: str = "") -> object:
        answer = self.request("POST", f"/control/servers{query}", self.keys.cert_pem)
        self.assertEqual(answer.status, 201, answer.body)
        return answer

    def test_the_token_decrypts_with_openssl_to_abms_message(self):
        answer = self.download("?server_name=Preapprove%20Prod")
        decrypted = openssl_decrypt(answer.body, self.keys.key_pem)
        self.assertRegex(
            decrypted,
            rb"^Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            rb"-----BEGIN MESSAGE-----\n\{.*\}\n-----END MESSAGE-----\n$",
        )
        creds = token_json(decrypted)
        self.assertEqual(sorted(creds), ["access_secret", "access_token", "access_token_expiry",
                                         "consumer_key", "consumer_secret"])
        for field, prefix in (("consumer_key", "CK_"), ("consumer_secret", "CS_"), ("access_token", "AT_"),
                              ("access_secret", "AS_")):
            self.assertTrue(creds[field].startswith(prefix) and len(creds[field]) > 40, field)
        expiry = datetime.datetime.strptime(creds["access_token_expiry"], "%Y-%m-%dT%H:%M:%SZ")
        in_a_year = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(days=365)
        self.assertLess(abs((expiry - in_a_year).total_seconds()), 120)
        self.assertEqual(answer.headers["Location"], f"/control/servers/{creds['consumer_key']}")
        self.assertRegex(answer.headers["Content-Disposition"],
                         r'^attachment; filename="Preapprove Prod_Token_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_smime\.p7m"$')

    def test_the_file_is_mime_over_indefinite_length_ber_enveloped_data(self):
        p7m = self.download().body
        self.assertTrue(p7m.startswith(
            b'Content-Type: application/pkcs7-mime; name="smime.p7m"; smime-type=enveloped-data\r\n'
            b"Content-Transfer-Encoding: base64\r\n"))
        der = der_of(p7m)
        self.assertEqual(der[:2], b"\x30\x80", "BER with an indefinite length, as ABM's tokens")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "t.ber").write_bytes(der)
            printed = subprocess.run(
                ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", "t.ber"],
                cwd=tmp, capture_output=True, check=True, text=True,
            ).stdout
        self.assertIn("pkcs7-envelopedData", printed)
        self.assertIn("d.issuerAndSerialNumber", printed)
        self.assertIn("rsaEncryption", printed)
        self.assertIn("aes-128-cbc", printed)

    def test_another_key_cannot_read_it(self):
        p7m = self.download().body
        with self.assertRaises(subprocess.CalledProcessError):
            openssl_decrypt(p7m, key_pair("another server").key_pem)

    def test_a_token_missing_a_field_or_already_expired_for_the_tests(self):
        creds = token_json(openssl_decrypt(self.download("?omit=access_secret").body, self.keys.key_pem))
        self.assertNotIn("access_secret", creds)
        creds = token_json(openssl_decrypt(self.download("?expires_in_days=-1").body, self.keys.key_pem))
        expiry = datetime.datetime.strptime(creds["access_token_expiry"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertLess(expiry, datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))

    def test_what_is_not_a_certificate_is_refused_with_what_to_send(self):
        for body in (b"", b"hello", self.keys.key_pem):
            answer = self.request("POST", "/control/servers", body)
            self.assertEqual(answer.status, 400)
            self.assertIn("PEM certificate", answer.json()["error"])
        answer = self.request("POST", "/control/servers?omit=password", self.keys.cert_pem)
        self.assertEqual(answer.status, 400)
        self.assertEqual(self.control("GET", "/control/servers"), [])

    def test_the_token_holds_no_secret_in_clear(self):
        answer = self.download()
        creds = token_json(openssl_decrypt(answer.body, self.keys.key_pem))
        for field in ("consumer_secret", "access_token", "access_secret"):
            self.assertNotIn(creds[field].encode(), answer.body)
            self.assertIsNone(re.search(creds[field][3:12], str(answer.headers)))
