"""The server token file ABM's "Download Token" gives (`<server>_Token_<time>_smime.p7m`).

MIME headers, a blank line, then base64 of a CMS EnvelopedData: one
KeyTransRecipientInfo (issuer and serial of the uploaded certificate, RSA
PKCS#1 v1.5), AES-128-CBC content, BER with indefinite lengths (`30 80 ...`).
`openssl smime -encrypt -aes128 -stream` makes exactly that structure; the
headers are written here as ABM writes them. Inside: a MIME header block
(CRLF), a blank line, and the credentials' JSON between BEGIN/END MESSAGE lines.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import ControlError

FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_secret", "access_token_expiry")

MIME_HEADERS = (
    'Content-Type: application/pkcs7-mime; name="smime.p7m"; smime-type=enveloped-data\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    'Content-Disposition: attachment; filename="smime.p7m"\r\n'
    "Content-Description: S/MIME Encrypted Message\r\n"
    "\r\n"
)


def load_certificate(pem: bytes) -> x509.Certificate:
    """The MDM server's certificate, as ABM takes it: PEM, an RSA key (the token is encrypted to it)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ControlError(
            400,
            "the body is not a PEM certificate: send the MDM server's certificate "
            "(-----BEGIN CERTIFICATE-----), as uploaded in ABM under Preferences > Your MDM Servers",
        ) from None
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise ControlError(400, "the certificate's key is not RSA: Apple encrypts server tokens to an RSA key")
    return cert


def message(credentials: dict[str, str]) -> bytes:
    """The decrypted content: its own MIME header (CRLF), then the JSON between the markers (LF)."""
    return (
        "Content-Type: text/plain;charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "-----BEGIN MESSAGE-----\n"
        f"{json.dumps(credentials, separators=(',', ':'))}\n"
        "-----END MESSAGE-----\n"
    ).encode()


def encrypt(certificate_pem: bytes, content: bytes) -> bytes:
    """The .p7m file: `content` enveloped to the certificate, BER (indefinite lengths), base64 under MIME headers."""
    with tempfile.TemporaryDirectory(prefix="ade-token-") as tmp:
        cert = Path(tmp) / "mdm-server.pem"
        cert.write_bytes(certificate_pem)
        # -binary: the content exactly as given (no conversion of line ends);
        # -stream: indefinite-length BER, as ABM's tokens are.
        ber = subprocess.run(
            ["openssl", "smime", "-encrypt", "-aes128", "-binary", "-stream", "-outform", "DER", str(cert)],
            input=content,
            capture_output=True,
            check=True,
        ).stdout
    b64 = base64.b64encode(ber).decode()
    lines = [b64[i : i + 76] for i in range(0, len(b64), 76)]
    return (MIME_HEADERS + "\r\n".join(lines) + "\r\n").encode()


def file_name(server_name: str, issued: str) -> str:
    """Like ABM's: `<server name>_Token_2026-05-01T09-30-00Z_smime.p7m`."""
    safe = re.sub(r'[^A-Za-z0-9 ._-]', "_", server_name).strip() or "MDM_Server"
    return f"{safe}_Token_{issued.replace(':', '-')}_smime.p7m"
