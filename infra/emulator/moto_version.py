"""The check each fix makes at import: is moto the version it was written against?

Every fix replaces some of moto's internals (a method, a module attribute, a
route) and relies on what the code around it does in that version. A moto
whose internals moved could leave a fix silently answering differently from
both moto and AWS, so a fix refuses to load on any other version; the pin in
infra/requirements.txt is the other half of the same promise.
"""

from __future__ import annotations

import moto

REQUIREMENTS = "infra/requirements.txt"


class MotoVersionError(RuntimeError):
    """A fix was loaded with a moto it was not written against."""


def written_against(fix: str, version: str) -> None:
    """Raises MotoVersionError naming `fix` unless moto is `version`."""
    installed = getattr(moto, "__version__", "unknown")
    if installed != version:
        raise MotoVersionError(
            f"the emulator fix {fix} was written against moto {version}, but moto {installed} is installed. "
            f"It replaces moto internals that may have changed: re-check it against moto {installed} "
            f"(its docstring names what it replaces; `make unit` compares the fixes with stock moto), "
            f"then set the version it names to {installed}, or pin moto=={version} in {REQUIREMENTS}."
        )
