"""Apple's side: GET /session, GET /account, POST /server/devices, POST /devices/sync.

The checks run in this order, each answering as Apple does:
1. the route and method (404, 405);
2. a scripted failure for the server the call names (failures.py);
3. /session: the OAuth parameters (400), then the credentials, signature,
   timestamp, nonce and token expiry (401), then the terms (403);
   other calls: `User-Agent` (400 USER_AGENT_MISSING / USER_AGENT_INVALID),
   `X-Server-Protocol-Version` (400), the session (401 UNAUTHORIZED), the
   terms (403 T_C_NOT_SIGNED), the body (415, 400 MALFORMED_REQUEST_BODY),
   then the call's own errors (cursors).
"""

from __future__ import annotations

import json
import re
import time

from . import failures
from .errors import ApiError
from .messages import Request, Response
from .oauth import base_string_uri, read_signed_request
from .state import Server, Simulator

ROUTES = {"/session": "GET", "/account": "GET", "/server/devices": "POST", "/devices/sync": "POST"}
PROTOCOL_VERSIONS = range(3, 11)
# User-Agents an HTTP library sends when the caller sets none: Apple wants the product named.
LIBRARY_AGENT = re.compile(
    r"(reqwest|hyper|ureq|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|curl|wget|"
    r"okhttp|java|apache-httpclient|axios|node-fetch|node|undici|libwww-perl)(/|\s|$)",
    re.IGNORECASE,
)


def handle(sim: Simulator, req: Request) -> Response:
    method = ROUTES.get(req.path)
    if method is None:
        return Response.api_error(ApiError(404, "NOT_FOUND"))
    if req.method != method:
        response = Response.api_error(ApiError(405, "METHOD_NOT_ALLOWED"))
        response.headers["Allow"] = method
        return response
    if req.path == "/session":
        return session(sim, req)
    return call(sim, req)


def scripted(server: Server | None, path: str) -> tuple[Response | None, float]:
    """A scripted failure's answer, or (None, a delay for the real answer)."""
    if server is None:
        return None, 0.0
    server.requests[path] += 1
    rule = failures.take(server.failures, path)
    if rule is None:
        return None, 0.0
    if rule.status is None:
        return None, rule.delay_seconds
    response = Response.api_error(ApiError(rule.status, rule.body or "", rule.retry_after))
    response.delay = rule.delay_seconds
    return response, 0.0


def session(sim: Simulator, req: Request) -> Response:
    uri = base_string_uri("http", req.host, req.path)
    try:
        signed = read_signed_request(req.headers.get("Authorization"), req.method, uri, req.query)
    except ApiError as e:
        return Response.api_error(e)
    with sim.lock:
        failure, delay = scripted(sim.servers.get(signed.consumer_key), req.path)
        if failure is not None:
            return failure
        try:
            response = Response.json({"auth_session_token": sim.open_session(signed, time.time())})
        except ApiError as e:
            response = Response.api_error(e)
    response.delay = delay
    return response


def check_headers(req: Request) -> None:
    agent = (req.headers.get("User-Agent") or "").strip()
    if not agent:
        raise ApiError(400, "USER_AGENT_MISSING")
    if LIBRARY_AGENT.match(agent):
        raise ApiError(400, "USER_AGENT_INVALID")
    version = (req.headers.get("X-Server-Protocol-Version") or "").strip()
    if not version.isdigit() or int(version) not in PROTOCOL_VERSIONS:
        raise ApiError(400, "INVALID_PROTOCOL_VERSION")


def read_body(req: Request) -> dict:
    media_type = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if req.body.strip() == b"":
        return {}
    if media_type != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE")
    try:
        body = json.loads(req.body)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "MALFORMED_REQUEST_BODY") from None
    if not isinstance(body, dict):
        raise ApiError(400, "MALFORMED_REQUEST_BODY")
    return body


def call(sim: Simulator, req: Request) -> Response:
    token = req.headers.get("X-ADM-Auth-Session") or ""
    with sim.lock:
        known = sim.sessions.get(token)
        failure, delay = scripted(known.server if known else None, req.path)
        if failure is not None:
            return failure
        try:
            check_headers(req)
            live = sim.session(token)
            server = live.server
            if not server.terms_accepted:
                raise ApiError(403, "T_C_NOT_SIGNED")
            if req.path == "/account":
                value = server.account()
            elif req.path == "/server/devices":
                value = sim.fetch(server, read_body(req))
            else:
                value = sim.sync(server, read_body(req))
            rotated = sim.answered(token, live)
            response = Response.json(value)
            if rotated is not None:
                response.headers["X-ADM-Auth-Session"] = rotated
        except ApiError as e:
            response = Response.api_error(e)
    response.delay = delay
    return response
