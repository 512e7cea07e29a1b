"""Runs the function processes the way Lambda does when one dies.

cargo-lambda serves the Lambda runtime API, but when a function process dies in
the middle of an invocation it neither fails that invocation nor starts the
function again: the caller waits for the full timeout and nothing resumes. In
AWS the invocation fails at once (Runtime.ExitError), the next one gets a fresh
sandbox, and the event source delivers the event again.

So each function process talks to the runtime API through a small proxy that
knows which invocation it holds. When the process exits, the supervisor reports
that invocation as failed with Runtime.ExitError (the relay then makes the
message visible again, as SQS does) and starts the process again.

For crash tests, `FaultProxy` stands between one function and the emulator (the
function's AWS_ENDPOINT_URL, as any endpoint): armed through the stack's control
API, it kills the function's processes with SIGKILL just before their Nth call
of an action (`dynamodb:BatchWriteItem`, `ses:SendEmail`, `s3:GetObject`...), or
half-way through the answer to it, so a test picks the line a crash hits. For
race tests it holds the answer to the Nth call instead, until released: the
call was served, so whatever a test does meanwhile happens between that call
and the function's next step.
"""

from __future__ import annotations

import ctypes
import http.client
import http.server
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from typing import Callable

log = logging.getLogger("supervisor")

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def die_with_parent() -> None:
    """A child's preexec_fn. A session of its own, so one killpg reaches whatever
    it starts in turn; and SIGTERM when the thread that started it dies, even by
    SIGKILL, so a killed stack leaves nothing behind."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _start_time(pid: int) -> str | None:
    """The process's start time (tells it from a later one with its pid), None once it
    is gone or a zombie (a zombie holds no port and runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _descendants(roots: list[int]) -> dict[int, str]:
    """Every live process below `roots` (by parent pid), with its start time."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out: dict[int, str] = {}
    todo = [c for r in roots for c in children.get(r, [])]
    while todo:
        pid = todo.pop()
        started = _start_time(pid)
        if started is not None and pid not in out:
            out[pid] = started
            todo += children.get(pid, [])
    return out


def stop_processes(procs: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM to every process in these trees at once, SIGKILL to whatever still
    runs `grace` seconds later.

    All at once, because one by one their graceful exits add up (cargo lambda
    alone waits a second for its connections). The trees are read before any
    signal: a child that starts its own session is not in its parent's group,
    and once its parent is gone it is no longer below anything of ours."""
    live = [p for p in procs if p.poll() is None]
    below = _descendants([p.pid for p in live])

    def signal_all(sig: int) -> None:
        for p in live:
            # Until it is reaped its pid (and group id) cannot be reused.
            if p.returncode is None:
                try:
                    os.killpg(p.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid, started in below.items():
            if _start_time(pid) == started:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def running() -> bool:
        return any(p.poll() is None for p in live) or any(_start_time(q) == s for q, s in below.items())

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    if running():
        signal_all(signal.SIGKILL)
        deadline = time.monotonic() + 2
        while running() and time.monotonic() < deadline:
            time.sleep(0.05)


def close_servers(servers: list) -> list[threading.Thread]:
    """Stop and close HTTP servers side by side, in threads to join: each shutdown()
    waits out its serve_forever poll (half a second), and closing frees the port
    now rather than when this process exits."""

    def close(server) -> None:
        server.shutdown()
        server.server_close()

    threads = [threading.Thread(target=close, args=(s,), name="close-server", daemon=True) for s in servers]
    for t in threads:
        t.start()
    return threads


# Free ports are picked now and listened on later (the admin page's once the whole stack is up).
# One from the kernel's ephemeral range can meanwhile become the local port of any outbound
# connection (a relay polling, a function calling the emulator), and the stack then fails to
# start with "Address already in use". So they come from below that range, and never twice.
FIRST_PORT = 20000
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def ephemeral_ports() -> tuple[int, int]:
    """The range outbound connections take their local ports from."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        # Linux's default starts at 32768, macOS's and the BSDs' at 49152: below both.
        return 32768, 65535


def free_port(within: range | None = None) -> int:
    """A port on 127.0.0.1 that nothing listens on, not handed out before by this process."""
    if within is None:
        low, _ = ephemeral_ports()
        within = range(FIRST_PORT, low)
    with _ports_lock:
        for _ in range(200):
            port = random.choice(within)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
        # No room below the ephemeral range (a host that starts it low): the kernel's pick.
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _end_to_end(headers) -> dict:
    """The headers a proxy passes on (not the hop-by-hop ones)."""
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}


def _forward(upstream: tuple[str, int], method: str, path: str, headers, body: bytes | None, timeout: float | None):
    conn = http.client.HTTPConnection(*upstream, timeout=timeout)
    conn.request(method, path, body=body, headers=_end_to_end(headers))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheaders(), data


def _absolute_deadline(headers):
    """cargo lambda's runtime API sends the invocation's timeout (ms) as its
    deadline; Lambda sends the deadline itself, in epoch milliseconds, and the
    functions plan their time by it."""
    out = []
    for k, v in headers:
        if k.lower() == "lambda-runtime-deadline-ms" and v.isdigit() and int(v) < 10**12:
            v = str(int(time.time() * 1000) + int(v))
        out.append((k, v))
    return out


def _answer(handler: http.server.BaseHTTPRequestHandler, status: int, headers, data: bytes) -> None:
    # A HEAD answer keeps the object's length and has no body.
    head = handler.command == "HEAD"
    handler.send_response(status)
    for k, v in headers:
        if k.lower() not in _HOP_HEADERS and (head or k.lower() != "content-length"):
            handler.send_header(k, v)
    if not head:
        handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if not head:
        handler.wfile.write(data)


class _Server(http.server.ThreadingHTTPServer):
    """A proxy's server: a client that dies mid-request (the point of a crash
    test) resets its connection; that is expected, not a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Instance:
    """One function process, its runtime-API proxy, and its restarts."""

    def __init__(self, name: str, cmd: list[str], env: dict, runtime_api: tuple[str, int], log_path: str):
        self.name = name
        self.cmd = cmd
        self.env = env
        self.upstream = runtime_api
        self.log_path = log_path
        self.in_flight: str | None = None
        self.lock = threading.Lock()
        self.stopping = False
        # Held while a process starts, so none starts after halt().
        self.spawn_lock = threading.Lock()
        self.restarts = 0
        self.proc: subprocess.Popen | None = None
        self.upstream_conn: http.client.HTTPConnection | None = None
        self.upstream_lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        threading.Thread(target=self.server.serve_forever, name=f"rt-proxy-{name}", daemon=True).start()
        self.watcher = threading.Thread(target=self._watch, name=f"supervise-{name}", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.watcher.start()

    def _spawn(self) -> None:
        port = self.server.server_address[1]
        env = {**self.env, "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt/{self.name}"}
        logfile = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.cmd, env=env, stdout=logfile, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        logfile.close()

    def _watch(self) -> None:
        while not self.stopping:
            proc = self.proc
            code = proc.wait()
            if self.stopping:
                return
            with self.lock:
                request_id, self.in_flight = self.in_flight, None
            log.warning("%s exited (%s) %s", self.name, code, f"during invocation {request_id}" if request_id else "")
            # Counted before the invocation fails, so whoever sees the failure
            # also sees the exit counted.
            self.restarts += 1
            if request_id:
                self._fail(request_id, f"RequestId: {request_id} Error: Runtime exited with error: {code}")
            time.sleep(0.2)
            with self.spawn_lock:
                if not self.stopping:
                    self._spawn()

    def _fail(self, request_id: str, message: str) -> None:
        """What Lambda answers for an invocation whose runtime died: Runtime.ExitError."""
        body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        path = f"/.rt/{self.name}/2018-06-01/runtime/invocation/{request_id}/error"
        try:
            _forward(
                self.upstream,
                "POST",
                path,
                {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Runtime.ExitError"},
                body,
                10,
            )
        except OSError as e:
            log.warning("could not fail invocation %s: %s", request_id, e)

    def forward(self, method: str, path: str, headers, body: bytes | None):
        """To the runtime API over one kept-alive connection, as the runtime
        client itself would talk to it (cargo-lambda ties an invocation's
        answer to the way it was fetched: a fresh connection per call fails some)."""
        with self.upstream_lock:
            for attempt in (0, 1):
                if self.upstream_conn is None:
                    self.upstream_conn = http.client.HTTPConnection(*self.upstream)
                try:
                    self.upstream_conn.request(method, path, body=body, headers=_end_to_end(headers))
                    resp = self.upstream_conn.getresponse()
                    return resp.status, resp.getheaders(), resp.read()
                except (OSError, http.client.HTTPException):
                    self.upstream_conn.close()
                    self.upstream_conn = None
                    if attempt or self.stopping:
                        raise
        raise OSError("unreachable")

    def kill(self) -> None:
        proc = self.proc
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    def halt(self) -> subprocess.Popen | None:
        """No more restarts and no more calls to the runtime API. Returns the
        process, for the caller to stop beside the others (stop_processes) and
        then close the proxy (self.server)."""
        with self.spawn_lock:
            self.stopping = True
        # A long poll held open on the runtime API makes cargo lambda wait before it exits.
        conn = self.upstream_conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return self.proc


    def _handler_class(self):
        instance = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # Headers and body leave in two writes: without TCP_NODELAY the body
            # waits for the client's delayed ACK (40 ms on every answer).
            disable_nagle_algorithm = True
            # Keep-alive as the runtime client expects: an HTTP/1.0 close after each
            # answer races its pooled connections (a reused, just-closed one fails a response).
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                self._proxy("GET")

            def do_POST(self):  # noqa: N802
                self._proxy("POST")

            def _proxy(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                next_call = self.path.endswith("/invocation/next")
                try:
                    status, headers, data = instance.forward(method, self.path, self.headers, body)
                except (OSError, http.client.HTTPException):
                    # The runtime API went away (the stack is stopping).
                    self.close_connection = True
                    return
                request_id = dict((k.lower(), v) for k, v in headers).get("lambda-runtime-aws-request-id")
                if next_call:
                    headers = _absolute_deadline(headers)
                with instance.lock:
                    if next_call and request_id:
                        instance.in_flight = request_id
                    elif "/invocation/" in self.path and instance.in_flight and instance.in_flight in self.path:
                        instance.in_flight = None
                try:
                    _answer(self, status, headers, data)
                except OSError:
                    # The process died while waiting for this invocation: it fails as Lambda's would.
                    if next_call and request_id:
                        with instance.lock:
                            instance.in_flight = None
                        instance._fail(request_id, "Runtime exited before it took the invocation")

            def log_message(self, *_args) -> None:
                pass

        return Handler


# How long a held answer waits for its release at most: a test that died
# without releasing it does not leave the function stuck.
HOLD_LIMIT_SECONDS = 60.0


class Rule:
    """Kill the function just before its `count`th `action` after being armed
    (or, with `after_bytes`, after that many bytes of the answer); with `hold`,
    serve that call and keep its answer until released."""

    def __init__(self, action: str, count: int, after_bytes: int | None, hold: bool = False):
        self.action = action
        self.count = count
        self.after_bytes = after_bytes
        self.hold = hold
        self.seen = 0
        self.fired = False
        self.holding = False
        self.released = threading.Event()


def action_of(method: str, path: str, headers, body: bytes) -> str:
    """The AWS API action a request to the emulator calls, as IAM names it."""
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    if target:
        prefix, _, op = target.partition(".")
        service = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "secretsmanager": "secretsmanager"}.get(
            prefix, prefix.lower()
        )
        return f"{service}:{op}"
    if path.startswith("/v2/email/outbound-emails"):
        return "ses:SendEmail"
    if path.startswith("/v2/email"):
        return "ses:" + path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    content_type = headers.get("Content-Type") or ""
    if body and "x-www-form-urlencoded" in content_type:
        params = urllib.parse.parse_qs(body.decode(errors="replace"))
        if "Action" in params:
            return "sns:" + params["Action"][0]
    query = urllib.parse.urlparse(path).query
    if method == "GET":
        return "s3:ListObjects" if path.count("/") < 2 or "list-type" in query else "s3:GetObject"
    if method == "PUT":
        return "s3:UploadPart" if "partNumber" in query else "s3:PutObject"
    return f"s3:{method}"


class FaultProxy:
    """A reverse proxy to the emulator for one function, with crash rules."""

    def __init__(self, name: str, emulator: str, kill: Callable[[], None]):
        parsed = urllib.parse.urlparse(emulator)
        self.name = name
        self.upstream = (parsed.hostname, parsed.port)
        self.kill = kill
        self.rules: list[Rule] = []
        # AWS calls made through this proxy, by action: tests bound a route's requests by it.
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        threading.Thread(target=self.server.serve_forever, name=f"faults-{name}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def arm(self, action: str, count: int, after_bytes: int | None, hold: bool = False) -> Rule:
        rule = Rule(action, count, after_bytes, hold)
        with self.lock:
            self.rules.append(rule)
        return rule

    def release(self) -> None:
        """Lets every held answer (and any still to be held) go."""
        with self.lock:
            for rule in self.rules:
                if rule.hold:
                    rule.released.set()

    def held(self) -> list[str]:
        """The actions whose answers are held now."""
        with self.lock:
            return [r.action for r in self.rules if r.holding and not r.released.is_set()]

    def _match(self, action: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.fired or rule.action != action:
                    continue
                rule.seen += 1
                if rule.seen == rule.count:
                    rule.fired = True
                    return rule
        return None

    def _handler_class(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as above: no delayed-ACK wait per answer

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = action_of(self.command, self.path, self.headers, body)
                with proxy.lock:
                    proxy.calls[action] += 1
                rule = proxy._match(action)
                if rule and not rule.hold and rule.after_bytes is None:
                    log.warning("crash injected: %s before its call %d of %s", proxy.name, rule.count, action)
                    proxy.kill()
                    self.close_connection = True
                    return
                try:
                    status, headers, data = _forward(proxy.upstream, self.command, self.path, self.headers, body or None, 120)
                except (OSError, http.client.HTTPException):
                    self.close_connection = True
                    return
                if rule and rule.hold:
                    log.warning("answer held: %s call %d of %s", proxy.name, rule.count, action)
                    rule.holding = True
                    rule.released.wait(HOLD_LIMIT_SECONDS)
                elif rule:
                    # Half an answer, then the crash: the function dies in the middle of reading it.
                    self.send_response(status)
                    for k, v in headers:
                        if k.lower() not in _HOP_HEADERS:
                            self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data[: rule.after_bytes])
                    self.wfile.flush()
                    time.sleep(0.3)
                    log.warning("crash injected: %s after %d bytes of %s", proxy.name, rule.after_bytes, action)
                    proxy.kill()
                    self.close_connection = True
                    return
                try:
                    _answer(self, status, headers, data)
                except OSError:
                    # Its caller was killed while waiting: nobody to answer.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # noqa: N815

            def log_message(self, *_args) -> None:
                pass

        return Handler
