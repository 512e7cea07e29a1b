"""`python -m ade_simulator` as the stack runs it: it answers on its port and stops at once on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

INFRA = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MainTest(unittest.TestCase):
    def test_it_serves_on_the_port_given_and_stops_on_sigterm(self):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ade_simulator", "--host", "127.0.0.1", "--port", str(port)],
            cwd=INFRA, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.addCleanup(proc.stdout.close)
        self.assertIn(f"127.0.0.1:{port}", proc.stdout.readline().decode())
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/control/clock", timeout=2) as r:
                    self.assertIn("now", json.loads(r.read()))
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, "the simulator did not answer")
                time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - t0, 2)
