"""What the simulator's tests share: a simulator on a free port, an MDM server's key and
certificate, ABM's token decrypted with the openssl CLI, an OAuth 1.0a signer and a
client that talks to the simulator as the product talks to Apple."""

from __future__ import annotations

import datetime
import http.client
import json
import secrets
import subprocess
import tempfile
import time
import unittest
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ade_simulator.oauth import base_string_uri, hmac_sha1, percent_encode, signature_base_string
from ade_simulator.server import make_server, serve_in_thread

USER_AGENT = "preapprove-ade-sync/0.1 (tests)"


@dataclass
class KeyPair:
    key_pem: bytes
    cert_pem: bytes


def key_pair(common_name: str = "preapprove MDM server") -> KeyPair:
    """RSA-2048 and a self-signed certificate (keyEncipherment, digitalSignature), as an MDM server makes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return KeyPair(key_pem, cert.public_bytes(serialization.Encoding.PEM))


def openssl_decrypt(p7m: bytes, key_pem: bytes) -> bytes:
    """What an admin's tooling does: `openssl smime -decrypt -inkey KEY.pem -in TOKEN.p7m`."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "key.pem").write_bytes(key_pem)
        (Path(tmp) / "token.p7m").write_bytes(p7m)
        return subprocess.run(
            ["openssl", "smime", "-decrypt", "-inkey", "key.pem", "-in", "token.p7m"],
            cwd=tmp,
            capture_output=True,
            check=True,
        ).stdout


def token_json(decrypted: bytes) -> dict:
    text = decrypted.decode()
    return json.loads(text.split("-----BEGIN MESSAGE-----\n", 1)[1].split("\n-----END MESSAGE-----", 1)[0])


def sign(method: str, uri: str, creds: dict, timestamp: int | None = None, nonce: str | None = None, **extra) -> str:
    """An OAuth 1.0a HMAC-SHA1 Authorization header, as Apple's docs ask for /session.
    `extra` adds or replaces protocol parameters after signing (to break the request)."""
    params = {
        "oauth_consumer_key": creds["consumer_key"],
        "oauth_token": creds["access_token"],
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_version": "1.0",
    }
    base = signature_base_string(method, uri, list(params.items()))
    params["oauth_signature"] = hmac_sha1(base, creds["consumer_secret"], creds["access_secret"])
    params.update(extra)
    return "OAuth " + ", ".join(['realm="ADM"'] + [f'{k}="{percent_encode(v)}"' for k, v in params.items()])


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class SimulatorTest(unittest.TestCase):
    """A simulator on a free port for the class; each test starts from a reset."""

    keys: KeyPair

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = make_server("127.0.0.1", 0, quiet=True)
        cls.thread = serve_in_thread(cls.server)
        cls.host = "127.0.0.1:%d" % cls.server.server_address[1]
        cls.url = f"http://{cls.host}"
        cls.keys = key_pair()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self) -> None:
        self.assertEqual(self.request("POST", "/control/reset").status, 200)

    # ---- HTTP ----
    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, timeout=60)
        try:
            # http.client adds no User-Agent of its own: each test says what it sends.
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def control(self, method: str, path: str, value=None, expect: int = 200):
        body = None if value is None else json.dumps(value).encode()
        answer = self.request(method, path, body, {"Content-Type": "application/json"})
        self.assertEqual(answer.status, expect, answer.body[:500])
        return answer.json()

    # ---- ABM ----
    def new_server(self, keys: KeyPair | None = None, **options) -> dict:
        """A new MDM server from ABM; its credentials as the token file holds them."""
        keys = keys or self.keys
        query = f"?{urlencode(options)}" if options else ""
        answer = self.request("POST", f"/control/servers{query}", keys.cert_pem)
        self.assertEqual(answer.status, 201, answer.body)
        return token_json(openssl_decrypt(answer.body, keys.key_pem))

    def add_devices(self, creds: dict, entries: list[dict]) -> dict:
        return self.control("POST", f"/control/servers/{creds['consumer_key']}/devices", entries)

    def state(self, creds: dict) -> dict:
        return self.control("GET", f"/control/servers/{creds['consumer_key']}")

    def advance(self, seconds: float) -> None:
        self.control("POST", "/control/clock", {"advance_seconds": seconds})

    # ---- Apple ----
    def session(self, creds: dict, **sign_options) -> Answer:
        uri = base_string_uri("http", self.host, "/session")
        return self.request("GET", "/session", headers={"Authorization": sign("GET", uri, creds, **sign_options)})

    def session_token(self, creds: dict) -> str:
        answer = self.session(creds)
        self.assertEqual(answer.status, 200, answer.body)
        return answer.json()["auth_session_token"]

    def apple(self, path: str, token: str, body: dict | bytes | None = None, **headers) -> Answer:
        """A call as the product makes it: its session, protocol version 3, a named User-Agent."""
        sent = {
            "X-ADM-Auth-Session": token,
            "X-Server-Protocol-Version": "3",
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json;charset=UTF8",
        }
        for name, value in headers.items():
            name = name.replace("_", "-")
            if value is None:
                sent.pop(name, None)
            else:
                sent[name] = value
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        return self.request("GET" if data is None else "POST", path, data, sent)

    def fetch_all(self, token: str, limit: int = 1000) -> tuple[list[list[dict]], str]:
        """Every page of a fetch, and the cursor to sync from."""
        pages, cursor = [], None
        while True:
            body = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            answer = self.apple("/server/devices", token, body)
            self.assertEqual(answer.status, 200, answer.body)
            page = answer.json()
            pages.append(page["devices"])
            cursor = page["cursor"]
            if not page["more_to_follow"]:
                return pages, cursor

    def assertError(self, answer: Answer, status: int, code: str) -> None:  # noqa: N802
        """Apple's status and code; clients match the code by substring, as here."""
        self.assertEqual(answer.status, status, answer.body)
        self.assertIn(code.encode(), answer.body)


def devices(n: int, family: str = "iPhone", prefix: str = "SIM", op: str = "added", start: int = 0) -> list[dict]:
    return [{"serial_number": f"{prefix}{i:08d}", "device_family": family, "op": op} for i in range(start, start + n)]
