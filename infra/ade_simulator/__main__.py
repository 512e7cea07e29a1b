"""`python -m ade_simulator --host 127.0.0.1 --port 4567` (from infra/), or `-m infra.ade_simulator` from the root."""

from __future__ import annotations

import argparse
import signal
import sys

from . import __doc__ as package_doc
from .clock import SimClock
from .server import make_server
from .state import Simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ade_simulator", description=package_doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4567)
    parser.add_argument(
        "--session-ttl", type=float, default=1800.0, help="seconds a session lasts on the simulated clock"
    )
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, Simulator(SimClock(), args.session_ttl))
    # SIGTERM (the stack's stop) ends it at once, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ADE simulator on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
