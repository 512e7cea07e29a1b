"""OAuth 1.0a (RFC 5849), as `GET /session` checks it: the one place for the signature rules.

The simulator verifies with these functions and the tests sign with them; the
tests also hold them to the RFC's own worked examples, so a rule wrong here
fails there rather than agreeing with itself.

The request's checks that need no credentials are here (Apple answers 400 for
them: a missing, duplicated or unsupported parameter); those that need the
server's credentials (401) are in state.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from .errors import ApiError

REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)
# One `name="value"` of the Authorization header (RFC 5849 §3.5.1).
_PARAM = re.compile(r'\s*([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"\s*')


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, every byte but ALPHA, DIGIT, `-._~` as %XX (upper case)."""
    return quote(value.encode(), safe="-._~")


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host in lower case, the default port left out, no query."""
    scheme, host = scheme.lower(), host.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host}{path or '/'}"


def normalized_parameters(params: list[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: each name and value encoded, sorted by name then value, joined."""
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature_base_string(method: str, uri: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.1. `params`: the protocol parameters but realm and oauth_signature,
    and the query's (and a form body's) parameters, decoded."""
    return "&".join(
        (percent_encode(method.upper()), percent_encode(uri), percent_encode(normalized_parameters(params)))
    )


def hmac_sha1(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 §3.4.2: base64 of HMAC-SHA1 keyed by the two encoded secrets joined by `&`."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()).decode()


def query_parameters(query: str) -> list[tuple[str, str]]:
    """RFC 5849 §3.4.1.3.1: the query as application/x-www-form-urlencoded, blanks kept."""
    return parse_qsl(query, keep_blank_values=True)


@dataclass(frozen=True)
class SignedRequest:
    """A /session request's protocol parameters, read and checked for form."""

    consumer_key: str
    token: str
    timestamp: int
    nonce: str
    signature: str
    base_string: str

    def signed_with(self, consumer_secret: str, token_secret: str) -> bool:
        expected = hmac_sha1(self.base_string, consumer_secret, token_secret)
        return hmac.compare_digest(expected.encode(), self.signature.encode())


def parse_authorization(header: str | None) -> list[tuple[str, str]]:
    """The header's parameters, decoded, realm included; 400 when it is no OAuth header."""
    if not header or not header[:6].lower() == "oauth ":
        raise ApiError(400, "parameter_absent")
    params = []
    for part in header[6:].split(","):
        if not part.strip():
            continue
        m = _PARAM.fullmatch(part)
        if m is None:
            raise ApiError(400, "parameter_rejected")
        params.append((unquote(m.group(1)), unquote(m.group(2))))
    return params


def read_signed_request(header: str | None, method: str, uri: str, query: str) -> SignedRequest:
    """What Apple checks before it looks at credentials: every parameter there once,
    HMAC-SHA1, version 1.0, a numeric timestamp. Each failure is a 400."""
    header_params = parse_authorization(header)
    names = [k for k, _ in header_params]
    if len(names) != len(set(names)):
        raise ApiError(400, "parameter_rejected")
    given = dict(header_params)
    if any(not given.get(name) for name in REQUIRED):
        raise ApiError(400, "parameter_absent")
    if given["oauth_signature_method"] != "HMAC-SHA1":
        raise ApiError(400, "signature_method_rejected")
    if given.get("oauth_version", "1.0") != "1.0":
        raise ApiError(400, "version_rejected")
    if not given["oauth_timestamp"].isdigit():
        raise ApiError(400, "parameter_rejected")
    signed = [(k, v) for k, v in header_params if k not in ("realm", "oauth_signature")]
    return SignedRequest(
        consumer_key=given["oauth_consumer_key"],
        token=given["oauth_token"],
        timestamp=int(given["oauth_timestamp"]),
        nonce=given["oauth_nonce"],
        signature=given["oauth_signature"],
        base_string=signature_base_string(method, uri, signed + query_parameters(query)),
    )

