"""The local stack's ports are picked first and listened on later (the admin
page's only after the whole stack is up). A port picked from the kernel's
ephemeral range can be taken meanwhile by any of the stack's own outbound
connections (relays polling, functions calling the emulator), and the stack
then fails to start with "Address already in use" (CI, test_stack_stop,
2026-12-06). So free ports come from below that range, and never twice.

Run: cd infra && ../.venv/bin/python -m unittest test_free_port
"""

from __future__ import annotations

import socket
import unittest

import supervisor


class FreePortTest(unittest.TestCase):
    def test_ports_are_outside_the_ephemeral_range(self):
        low, high = supervisor.ephemeral_ports()
        for _ in range(200):
            port = supervisor.free_port()
            self.assertFalse(low <= port <= high, f"{port} is in the ephemeral range {low}-{high}")

    def test_no_port_is_handed_out_twice(self):
        ports = [supervisor.free_port() for _ in range(500)]
        self.assertEqual(len(ports), len(set(ports)))

    def test_a_port_handed_out_can_be_listened_on(self):
        port = supervisor.free_port()
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
            s.listen()

    def test_a_port_someone_listens_on_is_never_handed_out(self):
        # A window of 20 ports, all but 5 held (or already in use on this host).
        window = range(supervisor.FIRST_PORT + 5000, supervisor.FIRST_PORT + 5020)
        held = []
        try:
            for port in list(window)[5:]:
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", port))
                    s.listen()
                    held.append(s)
                except OSError:
                    s.close()
            picked = [supervisor.free_port(within=window) for _ in range(5)]
            self.assertFalse(set(picked) & set(list(window)[5:]), f"{picked} includes a port in use")
        finally:
            for s in held:
                s.close()


if __name__ == "__main__":
    unittest.main()
