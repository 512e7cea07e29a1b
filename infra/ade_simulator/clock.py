"""The simulator's clock: the real time plus an offset that tests move forward.

Everything Apple decides by time (session and token expiry, a cursor's age,
op_date, device_assigned_date) reads this clock, so a test can let seven days
pass in a millisecond. The OAuth timestamp is the exception (see oauth.py):
a client signs with its own clock, which the offset does not move.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class SimClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, on the simulated clock."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def offset(self) -> float:
        with self._lock:
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def rfc3339(seconds: float) -> str:
    """Apple's format: UTC, whole seconds, a `Z`."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
