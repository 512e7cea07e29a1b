"""The control routes: Apple Business Manager's web portal, for tests and for trying it by hand.

    POST /control/servers                      PEM certificate -> 201, the server token (.p7m)
         ?server_name=..&org_name=..&expires_in_days=N&omit=FIELD
    GET  /control/servers                      every server's state
    GET  /control/servers/{ck}                 one server's state (devices, requests per path, ...)
    POST /control/servers/{ck}/token           a new token for the server (same devices and cursors)
    POST /control/servers/{ck}/devices         [{"serial_number", "device_family", "model"?, "op"}]
    POST /control/servers/{ck}/failures        a rule, a list of rules, {"terms": false}, {"clear": true}
    POST /control/servers/{ck}/options         {"duplicates_across_pages", "rotate_session_every",
                                                "session_ttl_seconds"}
    POST /control/servers/{ck}/sessions/expire every session of the server ends now
    GET  /control/clock, POST {"advance_seconds": n}
    POST /control/reset                        forget every server, session and clock offset
"""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import parse_qs

from . import devices as dev
from . import failures, token_file
from .clock import rfc3339
from .errors import ControlError
from .messages import Request, Response
from .state import OPS, TOKEN_LIFETIME_DAYS, Server, Simulator

_SERVER = re.compile(r"/control/servers/([^/]+)(/token|/devices|/failures|/options|/sessions/expire)?")
ENTRY_FIELDS = frozenset({"serial_number", "device_family", "op"}) | dev.OVERRIDABLE
P7M_TYPE = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'


def handle(sim: Simulator, req: Request) -> Response:
    try:
        return route(sim, req)
    except ControlError as e:
        return Response.control_error(e)


def route(sim: Simulator, req: Request) -> Response:
    path, method = req.path.rstrip("/"), req.method
    if path == "/control/clock":
        if method == "POST":
            advance(sim, json_body(req))
        elif method != "GET":
            raise ControlError(405, "use GET or POST on /control/clock")
        return Response.json({"now": rfc3339(sim.clock.now()), "offset_seconds": sim.clock.offset()})
    if path == "/control/reset" and method == "POST":
        with sim.lock:
            sim.reset()
        return Response.json({"reset": True})
    if path == "/control/servers":
        if method == "POST":
            return create_server(sim, req)
        if method == "GET":
            with sim.lock:
                return Response.json([sim.describe(s) for s in sim.servers.values()])
        raise ControlError(405, "use GET or POST on /control/servers")
    m = _SERVER.fullmatch(path)
    if m is None:
        raise ControlError(404, f"no control route {path}: see GET /control/servers, POST /control/clock")
    consumer_key, action = m.group(1), m.group(2)
    if action is None:
        if method != "GET":
            raise ControlError(405, "use GET on /control/servers/{consumer_key}")
        with sim.lock:
            return Response.json(sim.describe(sim.server(consumer_key)))
    if method != "POST":
        raise ControlError(405, f"use POST on /control/servers/{{consumer_key}}{action}")
    if action == "/token":
        return renew_token(sim, req, consumer_key)
    body = json_body(req)
    with sim.lock:
        server = sim.server(consumer_key)
        if action == "/devices":
            return Response.json(change_devices(sim, server, body))
        if action == "/failures":
            script_failures(server, body)
        elif action == "/options":
            set_options(server, body)
        else:
            return Response.json({"expired": sim.expire_sessions(server)})
        return Response.json(sim.describe(server))


def json_body(req: Request) -> object:
    try:
        return json.loads(req.body or b"{}")
    except (UnicodeDecodeError, ValueError):
        raise ControlError(400, "the body is not JSON") from None


def advance(sim: Simulator, body: object) -> None:
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ControlError(400, 'give {"advance_seconds": n}, n >= 0 (the clock only moves forward)')
    sim.clock.advance(seconds)


# ---- tokens ----
def token_options(req: Request) -> tuple[dict[str, str], float, set[str]]:
    query = parse_qs(req.query)
    names = {k: v[-1] for k, v in query.items() if k in ("server_name", "org_name")}
    unknown = set(query) - {"server_name", "org_name", "expires_in_days", "omit"}
    if unknown:
        raise ControlError(
            400, f"unknown option(s) {sorted(unknown)}: use server_name, org_name, expires_in_days, omit"
        )
    days = float(TOKEN_LIFETIME_DAYS)
    if "expires_in_days" in query:
        try:
            days = float(query["expires_in_days"][-1])
        except ValueError:
            raise ControlError(400, "expires_in_days must be a number of days (negative: already expired)") from None
    omit = set(query.get("omit", []))
    if omit - set(token_file.FIELDS):
        raise ControlError(400, f"omit names a token field: one of {list(token_file.FIELDS)}")
    return names, days, omit


def token_response(server: Server, omit: set[str], issued: float, status: int) -> Response:
    creds = server.credentials
    content = {
        "consumer_key": server.consumer_key,
        "consumer_secret": creds.consumer_secret,
        "access_token": creds.access_token,
        "access_secret": creds.access_secret,
        "access_token_expiry": rfc3339(creds.expiry),
    }
    for name in omit:
        del content[name]
    p7m = token_file.encrypt(server.certificate_pem, token_file.message(content))
    name = token_file.file_name(server.server_name, rfc3339(issued))
    return Response(
        status,
        p7m,
        P7M_TYPE,
        {
            "Location": f"/control/servers/{server.consumer_key}",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def create_server(sim: Simulator, req: Request) -> Response:
    names, days, omit = token_options(req)
    token_file.load_certificate(req.body)
    with sim.lock:
        server = sim.add_server(
            req.body, names.get("server_name"), names.get("org_name", "Example Organisation"), days
        )
    return token_response(server, omit, sim.clock.now(), 201)


def renew_token(sim: Simulator, req: Request, consumer_key: str) -> Response:
    """ABM's "Download Token" again: new secrets and access token (the old ones stop
    working), the same consumer key, devices and cursors. The body may give the
    certificate again; without one the token is for the one already uploaded."""
    names, days, omit = token_options(req)
    if req.body.strip():
        token_file.load_certificate(req.body)
    with sim.lock:
        server = sim.server(consumer_key)
        if req.body.strip():
            server.certificate_pem = req.body
        server.credentials = sim.new_credentials(days)
        server.server_name = names.get("server_name", server.server_name)
        server.set_org(names.get("org_name", server.org_name))
    return token_response(server, omit, sim.clock.now(), 200)


# ---- devices, failures, options ----
def check_entries(body: object) -> list[dict]:
    shape = 'a JSON list of {"serial_number", "device_family", "model"?, "op": added|modified|deleted|released}'
    if not isinstance(body, list):
        raise ControlError(400, f"the body must be {shape}")
    for i, entry in enumerate(body):
        if not isinstance(entry, dict):
            raise ControlError(400, f"entry {i} is not an object: each is {shape}")
        serial, op, family = entry.get("serial_number"), entry.get("op"), entry.get("device_family")
        if not isinstance(serial, str) or not serial.strip() or len(serial) > 64:
            raise ControlError(400, f"entry {i}: serial_number must be a non-empty string (at most 64 characters)")
        if op not in OPS:
            raise ControlError(400, f"entry {i} ({serial}): op must be one of {list(OPS)}")
        extra = entry.keys() - ENTRY_FIELDS
        if extra:
            raise ControlError(400, f"entry {i} ({serial}): unknown field(s) {sorted(extra)}")
        for k, v in entry.items():
            if not isinstance(v, str):
                raise ControlError(400, f"entry {i} ({serial}): {k} must be a string")
        if op in ("added", "modified") and not family:
            raise ControlError(
                400, f"entry {i} ({serial}): {op} needs a device_family (iPhone, iPad, Mac, AppleTV, ...)"
            )
    return body


def change_devices(sim: Simulator, server: Server, body: object) -> dict:
    entries = check_entries(body)
    now = rfc3339(sim.clock.now())
    ops: Counter = Counter()
    for entry in entries:
        server.apply(entry, now)
        ops[entry["op"]] += 1
    return {**{op: ops[op] for op in OPS}, "devices": len(server.devices), "events": len(server.events)}


def script_failures(server: Server, body: object) -> None:
    """Checked whole before any of it applies."""
    specs = body if isinstance(body, list) else [body]
    changes = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise ControlError(400, 'give a failure rule, a list of them, {"terms": false} or {"clear": true}')
        spec = dict(spec)
        terms, clear = spec.pop("terms", None), spec.pop("clear", False)
        if terms is not None and not isinstance(terms, bool):
            raise ControlError(400, "terms must be true (accepted) or false (every call answers 403 T_C_NOT_SIGNED)")
        if not isinstance(clear, bool):
            raise ControlError(400, "clear must be true (drop the pending failures) or false")
        changes.append((terms, clear, failures.parse_rule(spec) if spec else None))
    for terms, clear, rule in changes:
        if clear:
            server.failures.clear()
        if terms is not None:
            server.terms_accepted = terms
        if rule is not None:
            server.failures.append(rule)


def set_options(server: Server, body: object) -> None:
    if not isinstance(body, dict):
        raise ControlError(400, "give a JSON object of options")
    opts = server.options
    for name, value in body.items():
        if name in ("duplicates_across_pages", "rotate_session_every"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise ControlError(400, f"{name} must be a whole number from 0 to 1000")
            setattr(opts, name, value)
        elif name == "session_ttl_seconds":
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ControlError(400, "session_ttl_seconds must be a positive number (null: the default)")
            opts.session_ttl_seconds = value
        else:
            raise ControlError(
                400, f"unknown option {name}: duplicates_across_pages, rotate_session_every, session_ttl_seconds"
            )
