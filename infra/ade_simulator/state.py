"""What Apple keeps: MDM servers, their credentials, devices, sync events and sessions.

One lock guards it all: a request holds it while it reads or changes state
(a page of 1,000 devices is a few milliseconds), never while it waits.

A server's devices are a dict by serial plus an append-only list of
(assignment number, serial): a fetch pages through the list in order,
skipping entries whose device was since removed or assigned again. Sync
events are an append-only list of (op_type, op_date, device as it was then);
a sync cursor is a position in it.
"""

from __future__ import annotations

import bisect
import hashlib
import secrets
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

from . import devices as dev
from .clock import SimClock, rfc3339
from .cursors import FETCH, SYNC, Cursor, CursorCodec
from .errors import ApiError, ControlError
from .failures import Rule
from .oauth import SignedRequest

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR_LIFETIME_SECONDS = 7 * 86400
# How far a client's oauth_timestamp may be from the real clock.
TIMESTAMP_WINDOW_SECONDS = 300
TOKEN_LIFETIME_DAYS = 365
OPS = ("added", "modified", "deleted", "released")


@dataclass
class Credentials:
    consumer_secret: str
    access_token: str
    access_secret: str
    expiry: float  # on the simulated clock


@dataclass
class Options:
    # Devices at the end of a fetch page repeated at the start of the next one.
    duplicates_across_pages: int = 0
    # Every Nth answer on a session carries a new X-ADM-Auth-Session; the old one then stops working.
    rotate_session_every: int = 0
    # None: the simulator's default (--session-ttl).
    session_ttl_seconds: float | None = None


@dataclass
class Server:
    consumer_key: str
    certificate_pem: bytes
    credentials: Credentials
    server_name: str
    org_name: str
    id: bytes = field(default_factory=lambda: uuid.uuid4().bytes)
    terms_accepted: bool = True
    options: Options = field(default_factory=Options)
    devices: dict[str, dev.Device] = field(default_factory=dict)
    order_seqs: list[int] = field(default_factory=list)
    order_serials: list[str] = field(default_factory=list)
    next_seq: int = 1
    events: list[tuple[str, str, dev.Device]] = field(default_factory=list)
    requests: Counter = field(default_factory=Counter)
    sessions_issued: int = 0
    failures: list[Rule] = field(default_factory=list)
    # nonce -> its oauth_timestamp; kept while the timestamp could still be accepted.
    nonces: dict[str, int] = field(default_factory=dict)

    # Derived from org_name (set_org): each device names admin_id, so it is made once.
    org_domain: str = ""
    admin_id: str = ""
    org_id: str = ""

    def __post_init__(self) -> None:
        self.set_org(self.org_name)

    def set_org(self, org_name: str) -> None:
        self.org_name = org_name
        self.org_domain = "".join(c for c in org_name.lower() if c.isalnum())[:30] + ".example"
        self.admin_id = f"it-admin@{self.org_domain}"
        # Servers of one organisation share it (several MDM servers, one org_name).
        self.org_id = str(int(hashlib.sha256(org_name.encode()).hexdigest()[:12], 16) % 10**7).zfill(7)

    @property
    def server_uuid(self) -> str:
        return str(uuid.UUID(bytes=self.id)).upper()

    def account(self) -> dict:
        """GET /account."""
        limits = {"default": DEFAULT_LIMIT, "maximum": MAX_LIMIT}
        return {
            "server_name": self.server_name,
            "server_uuid": self.server_uuid,
            "admin_id": self.admin_id,
            "facilitator_id": self.admin_id,
            "org_name": self.org_name,
            "org_email": f"it@{self.org_domain}",
            "org_phone": "+1 408 555 0100",
            "org_address": "1 Example Way, Cupertino CA 95014, USA",
            "org_id": self.org_id,
            "org_id_hash": hashlib.sha256(f"org:{self.org_id}".encode()).hexdigest(),
            "org_type": "org",
            "org_version": "v2",
            "urls": [
                {"uri": "/account", "http_method": ["GET"], "limit": {"default": 0, "maximum": 0}},
                {"uri": "/server/devices", "http_method": ["POST"], "limit": limits},
                {"uri": "/devices/sync", "http_method": ["POST"], "limit": limits},
            ],
        }

    # ---- devices ----
    def page_of_devices(self, after: int, end: int, limit: int, repeat: int) -> tuple[list[dev.Device], int, bool]:
        """Up to `limit` devices assigned after number `after` and before `end`, the
        page's first `repeat` being the last ones of the page before; the last
        assignment number served; whether more follow."""
        seqs, serials, live = self.order_seqs, self.order_serials, self.devices

        def alive(i: int) -> dev.Device | None:
            d = live.get(serials[i])
            return d if d is not None and d.seq == seqs[i] else None

        start = bisect.bisect_right(seqs, after)
        page: list[dev.Device] = []
        i = start - 1
        while i >= 0 and len(page) < min(repeat, limit - 1):
            d = alive(i)
            if d is not None:
                page.append(d)
            i -= 1
        page.reverse()
        last = after
        i = start
        while i < len(seqs) and seqs[i] < end and len(page) < limit:
            d = alive(i)
            if d is not None:
                page.append(d)
                last = d.seq
            i += 1
        while i < len(seqs) and seqs[i] < end:
            if alive(i) is not None:
                return page, last, True
            i += 1
        return page, last, False

    def assign(self, entry: dict, now: str) -> dev.Device:
        """A device assigned to this server, new or again (a new assignment date)."""
        previous = self.devices.get(entry["serial_number"])
        if previous is not None:
            device = dev.make(entry, now, self.admin_id, previous.seq)
        else:
            device = dev.make(entry, now, self.admin_id, self.next_seq)
            self.order_seqs.append(self.next_seq)
            self.order_serials.append(device.serial_number)
            self.next_seq += 1
        self.devices[device.serial_number] = device
        return device

    def apply(self, entry: dict, now: str) -> None:
        """One control entry: added, modified (an unknown serial is assigned, as when
        ABM moves a device from another server), deleted, released (no event)."""
        op, serial = entry["op"], entry["serial_number"]
        previous = self.devices.get(serial)
        if op == "added":
            self.events.append(("added", now, self.assign(entry, now)))
        elif op == "modified":
            if previous is None:
                device = self.assign(entry, now)
            else:
                device = dev.make(entry, previous.device_assigned_date, self.admin_id, previous.seq, previous)
                self.devices[serial] = device
            self.events.append(("modified", now, device))
        elif op == "deleted":
            device = self.devices.pop(serial, None) or dev.make(entry, now, self.admin_id, 0)
            self.events.append(("deleted", now, device))
        else:
            self.devices.pop(serial, None)


@dataclass
class Session:
    server: Server
    expires: float  # on the simulated clock
    answers: int = 0


def read_limit(body: dict) -> int:
    """`limit`: 100 when absent; above 1000, 1000 (Apple clamps rather than refuse)."""
    limit = body.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ApiError(400, "MALFORMED_REQUEST_BODY")
    return min(limit, MAX_LIMIT)


class Simulator:
    def __init__(self, clock: SimClock | None = None, session_ttl_seconds: float = 1800.0) -> None:
        self.clock = clock or SimClock()
        self.session_ttl_seconds = session_ttl_seconds
        self.lock = threading.Lock()
        self.servers: dict[str, Server] = {}
        self.sessions: dict[str, Session] = {}
        self.codec = CursorCodec()

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # ---- sessions ----
    def open_session(self, signed: SignedRequest, real_now: float) -> str:
        """GET /session: the 401s of Apple's authentication, in the order that leaks least
        (nothing about a token before its signature is checked; a nonce is used up
        only by a correctly signed request)."""
        server = self.servers.get(signed.consumer_key)
        if server is None:
            raise ApiError(401, "consumer_key_unknown")
        creds = server.credentials
        if not secrets.compare_digest(signed.token.encode(), creds.access_token.encode()):
            # Also an older token of this server, replaced by a later download.
            raise ApiError(401, "token_rejected")
        if not signed.signed_with(creds.consumer_secret, creds.access_secret):
            raise ApiError(401, "signature_invalid")
        # The client's clock, not the simulated one: the offset is time that passed
        # for both sides, which a client's timestamp cannot show.
        if abs(signed.timestamp - real_now) > TIMESTAMP_WINDOW_SECONDS:
            raise ApiError(401, "timestamp_refused")
        for nonce, ts in list(server.nonces.items()):
            if ts < real_now - TIMESTAMP_WINDOW_SECONDS:
                del server.nonces[nonce]
        if signed.nonce in server.nonces:
            raise ApiError(401, "nonce_used")
        server.nonces[signed.nonce] = signed.timestamp
        if creds.expiry <= self.clock.now():
            raise ApiError(401, "token_expired")
        if not server.terms_accepted:
            raise ApiError(403, "T_C_NOT_SIGNED")
        return self.new_session(server)

    def new_session(self, server: Server) -> str:
        now = self.clock.now()
        for token, s in list(self.sessions.items()):
            if s.expires <= now:
                del self.sessions[token]
        ttl = server.options.session_ttl_seconds or self.session_ttl_seconds
        token = secrets.token_urlsafe(30)
        self.sessions[token] = Session(server, now + ttl)
        server.sessions_issued += 1
        return token

    def session(self, token: str | None) -> Session:
        """The live session `token` names; 401 UNAUTHORIZED if none (missing, unknown, expired, rotated away)."""
        s = self.sessions.get(token or "")
        if s is None or s.expires <= self.clock.now():
            raise ApiError(401, "UNAUTHORIZED")
        return s

    def answered(self, token: str, session: Session) -> str | None:
        """After a 200 on a session: its replacement, when this server rotates sessions."""
        session.answers += 1
        every = session.server.options.rotate_session_every
        if not every or session.answers % every:
            return None
        del self.sessions[token]
        return self.new_session(session.server)

    # ---- devices ----
    def fetch(self, server: Server, body: dict) -> dict:
        """POST /server/devices: the devices assigned when the fetch began, in pages."""
        limit = read_limit(body)
        text = body.get("cursor")
        now_ms = self.now_ms()
        if text is None or text == "":
            after, end, events, repeat = 0, server.next_seq, len(server.events), 0
        else:
            cursor = self.codec.decode(text, server.id)
            if cursor.kind == SYNC:
                raise ApiError(400, "EXHAUSTED_CURSOR")
            after, end, events = cursor.position, cursor.end, cursor.events
            repeat = server.options.duplicates_across_pages
        page, last, more = server.page_of_devices(after, end, limit, repeat)
        if more:
            cursor = Cursor(FETCH, server.id, last, end, events, now_ms)
        else:
            # The last page's cursor is the one to sync from: the events since the fetch began.
            cursor = Cursor(SYNC, server.id, events, issued_ms=now_ms)
        return {
            "devices": [dev.to_json(d) for d in page],
            "cursor": self.codec.encode(cursor),
            "fetched_until": rfc3339(now_ms / 1000),
            "more_to_follow": more,
        }

    def sync(self, server: Server, body: dict) -> dict:
        """POST /devices/sync: the changes since the cursor, each with op_type and op_date."""
        limit = read_limit(body)
        text = body.get("cursor")
        if text is None or text == "":
            raise ApiError(400, "CURSOR_REQUIRED")
        cursor = self.codec.decode(text, server.id)
        now_ms = self.now_ms()
        if now_ms - cursor.issued_ms > CURSOR_LIFETIME_SECONDS * 1000:
            raise ApiError(400, "EXPIRED_CURSOR")
        start = cursor.events if cursor.kind == FETCH else cursor.position
        page = server.events[start : start + limit]
        more = start + len(page) < len(server.events)
        return {
            "devices": [dev.to_json(d, op, date) for op, date, d in page],
            "cursor": self.codec.encode(Cursor(SYNC, server.id, start + len(page), issued_ms=now_ms)),
            "fetched_until": page[-1][1] if more else rfc3339(now_ms / 1000),
            "more_to_follow": more,
        }

    # ---- ABM's side ----
    def new_credentials(self, expires_in_days: float) -> Credentials:
        return Credentials(
            consumer_secret="CS_" + secrets.token_hex(48),
            access_token="AT_" + secrets.token_hex(48),
            access_secret="AS_" + secrets.token_hex(48),
            expiry=self.clock.now() + expires_in_days * 86400,
        )

    def add_server(self, certificate_pem: bytes, server_name: str | None, org_name: str, days: float) -> Server:
        server = Server(
            consumer_key="CK_" + secrets.token_hex(48),
            certificate_pem=certificate_pem,
            credentials=self.new_credentials(days),
            server_name=server_name or f"MDM Server {len(self.servers) + 1}",
            org_name=org_name,
        )
        self.servers[server.consumer_key] = server
        return server

    def server(self, consumer_key: str) -> Server:
        s = self.servers.get(consumer_key)
        if s is None:
            raise ControlError(
                404, f"no MDM server with consumer key {consumer_key[:12]}...: make one with POST /control/servers"
            )
        return s

    def expire_sessions(self, server: Server) -> int:
        gone = [t for t, s in self.sessions.items() if s.server is server]
        for t in gone:
            del self.sessions[t]
        return len(gone)

    def reset(self) -> None:
        self.servers.clear()
        self.sessions.clear()
        self.clock.reset()

    def describe(self, server: Server) -> dict:
        """GET /control/servers/{consumer_key}."""
        now = self.clock.now()
        return {
            "consumer_key": server.consumer_key,
            "server_name": server.server_name,
            "server_uuid": server.server_uuid,
            "org_name": server.org_name,
            "access_token_expiry": rfc3339(server.credentials.expiry),
            "terms_accepted": server.terms_accepted,
            "devices": len(server.devices),
            "events": len(server.events),
            "requests": dict(server.requests),
            "sessions_issued": server.sessions_issued,
            "sessions_active": sum(1 for s in self.sessions.values() if s.server is server and s.expires > now),
            "failures_pending": [r.describe() for r in server.failures],
            "options": {
                "duplicates_across_pages": server.options.duplicates_across_pages,
                "rotate_session_every": server.options.rotate_session_every,
                "session_ttl_seconds": server.options.session_ttl_seconds or self.session_ttl_seconds,
            },
        }
