"""`make dev` lets go at once: stopped, every process the stack started is gone
and every port it listened on is free within 5 seconds, so the next `make dev`
finds its ports free.

StackStopTest runs `stack.py dev` as `make dev` does (the emulator, cargo
lambda watch, the supervised function processes, the admin page, the rebuild
watcher) in a process group of its own, only on free ports rather than
4566/9000/8080/4567, so a `make dev` already running is left alone; it needs the
built functions (`make build`). StopProcessesTest holds the stop itself to
trees no process of today's stack has: a child in a session of its own, one
deaf to SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
LIMIT_SECONDS = 5.0

# stack.py's own main(), in dev mode, with every port it would fix chosen free.
BOOT = f"""
import sys
sys.path.insert(0, {str(INFRA)!r})
import stack

class OnFreePorts(stack.Stack):
    def __init__(self, _moto_port, _lambda_port, _admin_port, **kwargs):
        kwargs["ade_port"] = stack.free_port()
        super().__init__(stack.free_port(), stack.free_port(), stack.free_port(), **kwargs)

stack.Stack = OnFreePorts
sys.argv = ["stack.py", "dev"]
sys.exit(stack.main())
"""


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _running(pid: int, started: str) -> bool:
    """The same process (not a later one with its pid), and not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] not in ("Z", "X")


def _tree(root: int) -> dict[int, str]:
    """Every live process below root (by parent pid, whatever its group or session), with its start time."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is not None and fields[0] not in ("Z", "X"):
            out[pid] = fields[19]
            todo += children.get(pid, [])
    return out


def _listening() -> dict[int, int]:
    """Socket inode -> port, for every TCP socket listening on this machine."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A":  # TCP_LISTEN
                out[int(cols[9])] = int(cols[1].rsplit(":", 1)[1], 16)
    return out


def _ports_of(pids) -> set[int]:
    listening = _listening()
    ports = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in listening:
                ports.add(listening[int(link[8:-1])])
    return ports


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc")
class StackStopTest(unittest.TestCase):
    def start_stack(self) -> None:
        self.out = tempfile.NamedTemporaryFile(prefix="stack-stop-", suffix=".log")
        self.stack = subprocess.Popen(
            [str(PYTHON), "-c", BOOT], cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes: dict[int, str] = {}
        self.addCleanup(self.kill_leftovers)
        deadline = time.monotonic() + 600  # a cold `cargo build`, if `make build` has not run
        while b"Stack is up" not in self.log():
            if self.stack.poll() is not None or time.monotonic() > deadline:
                self.fail(f"the stack did not come up:\n{self.log()[-3000:].decode(errors='replace')}")
            time.sleep(0.5)
        # Every process below stack.py, in whatever session, once its relays and functions are settled.
        time.sleep(2)
        self.processes = _tree(self.stack.pid)
        self.cmdlines = {pid: _cmdline(pid) for pid in self.processes}
        self.ports = _ports_of([self.stack.pid, *self.processes])
        commands = "\n".join(self.cmdlines.values())
        for what in ("cargo-lambda lambda watch", "infra.emulator", "infra.ade_simulator", "target/debug/admission"):
            self.assertIn(what, commands, "the stack runs what make dev runs")
        env = self.log().decode(errors="replace")
        for name in ("AWS_ENDPOINT_URL", "LAMBDA_INVOKE_URL", "ADMIN_URL", "ADE_SIMULATOR_URL"):
            port = int(re.search(rf"{name}=http://127\.0\.0\.1:(\d+)", env).group(1))
            self.assertIn(port, self.ports, f"{name}'s port is among those the stack listens on")

    def log(self) -> bytes:
        return Path(self.out.name).read_bytes()

    def stopped_within(self, limit: float) -> tuple[float, list[str]]:
        """Seconds until every process is gone and every port free; what was left at the limit."""
        t0 = time.monotonic()
        while True:
            self.stack.poll()
            elapsed = time.monotonic() - t0
            left = [f"pid {p}: {self.cmdlines[p][:100]}" for p, s in self.processes.items() if _running(p, s)]
            if self.stack.returncode is None:
                left.append(f"pid {self.stack.pid}: stack.py")
            held = self.ports & set(_listening().values())
            left += [f"port {port} still listening" for port in sorted(held)]
            if not left or elapsed > limit:
                return elapsed, left
            time.sleep(0.05)

    def kill_leftovers(self) -> None:
        for pid, started in self.processes.items():
            if _running(pid, started):
                os.kill(pid, signal.SIGKILL)
        if self.stack.poll() is None:
            os.killpg(self.stack.pid, signal.SIGKILL)
            self.stack.wait()
        self.out.close()

    def assert_stopped(self, how: str) -> None:
        elapsed, left = self.stopped_within(LIMIT_SECONDS)
        if left:
            self.fail(f"{elapsed:.2f}s after {how}, {len(left)} still there:\n  " + "\n  ".join(left))
        print(
            f"\n{how}: {len(self.processes) + 1} processes and {len(self.ports)} ports, all gone in {elapsed:.2f}s",
            file=sys.stderr,
        )

    def test_sigterm_to_the_group_stops_everything_within_5_seconds(self):
        """What a process manager sends to make dev; a terminal's Ctrl-C (SIGINT) takes the same path in stack.py."""
        self.start_stack()
        os.killpg(self.stack.pid, signal.SIGTERM)
        self.assert_stopped("SIGTERM to the process group")
        self.assertEqual(self.stack.returncode, 0, "make dev's stop is a clean exit")

    def test_sigkill_to_stack_py_leaves_no_process_behind(self):
        """stack.py itself killed outright: whatever it started goes too, as nothing is left to stop it."""
        self.start_stack()
        os.kill(self.stack.pid, signal.SIGKILL)
        self.assert_stopped("SIGKILL to stack.py")


@unittest.skipUnless(sys.platform.startswith("linux"), "reads /proc")
class StopProcessesTest(unittest.TestCase):
    def test_a_tree_in_sessions_of_its_own_that_ignores_sigterm_is_gone_after_the_grace(self):
        sys.path.insert(0, str(INFRA))
        import supervisor

        # A grandchild in a session of its own (outside its parent's group), and one deaf to SIGTERM.
        script = "setsid bash -c 'sleep 300 & wait' & (trap '' TERM; sleep 300) & echo started; wait"
        proc = subprocess.Popen(
            ["bash", "-c", script], stdout=subprocess.PIPE, preexec_fn=supervisor.die_with_parent
        )
        self.addCleanup(proc.stdout.close)
        self.assertEqual(proc.stdout.readline().strip(), b"started")
        time.sleep(0.3)
        tree = _tree(proc.pid)
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p, s in tree.items() if _running(p, s)])
        self.assertEqual(len(tree), 3, [_cmdline(p) for p in tree])
        t0 = time.monotonic()
        supervisor.stop_processes([proc], grace=1)
        elapsed = time.monotonic() - t0
        self.assertEqual([p for p, s in tree.items() if _running(p, s)], [])
        self.assertIsNotNone(proc.returncode)
        self.assertLess(elapsed, 2.5, "SIGKILL once the grace is up")


if __name__ == "__main__":
    unittest.main()
