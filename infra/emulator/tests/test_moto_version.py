"""Each fix refuses to load with a moto other than the one it was written against."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import unittest
from pathlib import Path
from unittest import mock

import moto

from .. import behaviour, speed
from ..moto_version import MotoVersionError

FIXES = [f"{sub.__name__}.{m.name}" for sub in (behaviour, speed) for m in pkgutil.iter_modules(sub.__path__)]


class VersionGuard(unittest.TestCase):
    def setUp(self) -> None:
        # Each fix is loaded afresh below: the modules the other tests use are put back.
        loaded = {name: importlib.import_module(name) for name in FIXES}

        def put_back() -> None:
            sys.modules.update(loaded)
            for name, module in loaded.items():
                parent, _, attr = name.rpartition(".")
                setattr(sys.modules[parent], attr, module)

        self.addCleanup(put_back)

    def load_afresh(self, name: str) -> None:
        sys.modules.pop(name, None)
        importlib.import_module(name)

    def test_each_fix_names_itself(self) -> None:
        self.assertEqual(len(FIXES), 11)
        for name in FIXES:
            with self.subTest(name):
                self.load_afresh(name)  # the version it names: loads
                with mock.patch.object(moto, "__version__", "5.9.0"), self.assertRaises(MotoVersionError) as refused:
                    self.load_afresh(name)
                message = str(refused.exception)
                for said in (name, "moto 5.2.5", "moto 5.9.0 is installed", "re-check", "infra/requirements.txt"):
                    self.assertIn(said, message)

    def test_the_server_does_not_start(self) -> None:
        # A process of its own, as stack.py starts it: the fixes are not applied in this one.
        infra = Path(__file__).resolve().parents[2]
        run = subprocess.run(
            [sys.executable, "-c", STARTED_WITH_ANOTHER_MOTO, "-p", "0"],
            cwd=infra, capture_output=True, text=True, timeout=60, check=False,
        )
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertRegex(
            run.stderr.strip(),
            r"^emulator: the emulator fix emulator\.behaviour\.atomic_writes was written against moto 5\.2\.5, "
            r"but moto 5\.9\.0 is installed\.",
        )
        self.assertNotIn("Traceback", run.stderr)


# `python -m emulator`, with moto saying it is 5.9.0.
STARTED_WITH_ANOTHER_MOTO = """
import runpy, sys
import moto
moto.__version__ = "5.9.0"
sys.argv[0] = "emulator"
runpy.run_module("emulator", run_name="__main__", alter_sys=True)
"""

if __name__ == "__main__":
    unittest.main()
