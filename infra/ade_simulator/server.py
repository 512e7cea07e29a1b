"""The HTTP server: HTTP/1.1 with keep-alive (a client pages through a fetch on one
connection, as against Apple), a thread per connection, `/control/` to control.py,
everything else to apple_routes.py."""

from __future__ import annotations

import http.server
import threading
import time

from . import apple_routes, control
from .errors import TEXT_TYPE
from .messages import Request, Response
from .state import Simulator

# A control request with 100,000 devices is ~8 MB; anything past this is refused.
MAX_BODY_BYTES = 64 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sim: Simulator
    quiet = False

    def version_string(self) -> str:
        # As Apple's front end names itself: nothing tells a client it talks to a simulator.
        return "Apple"

    def do_GET(self) -> None:  # noqa: N802
        self.serve()

    def do_POST(self) -> None:  # noqa: N802
        self.serve()

    def do_PUT(self) -> None:  # noqa: N802
        self.serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self.serve()

    def read_body(self) -> bytes | None:
        """The whole body (Content-Length or chunked); None if it is too big. ValueError if malformed."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def serve(self) -> None:
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.answer(Response(400, b"BAD_REQUEST", TEXT_TYPE))
            return
        if body is None:
            self.close_connection = True
            self.answer(Response(413, b"REQUEST_TOO_LARGE", TEXT_TYPE))
            return
        path, _, query = self.path.partition("?")
        req = Request(
            method=self.command,
            path=path,
            query=query,
            headers=self.headers,
            body=body,
            host=self.headers.get("Host") or "%s:%d" % self.server.server_address[:2],
        )
        if path == "/control" or path.startswith("/control/"):
            response = control.handle(self.sim, req)
        else:
            response = apple_routes.handle(self.sim, req)
        if response.delay:
            time.sleep(response.delay)
        self.answer(response)

    def answer(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        # The request line only (paths carry no secrets); tests keep their output their own.
        if not self.quiet:
            super().log_message(format, *args)


class SimulatorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_server(host: str, port: int, sim: Simulator | None = None, quiet: bool = False) -> SimulatorServer:
    handler = type("BoundHandler", (Handler,), {"sim": sim or Simulator(), "quiet": quiet})
    return SimulatorServer((host, port), handler)


def serve_in_thread(server: SimulatorServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="ade-simulator", daemon=True)
    thread.start()
    return thread
