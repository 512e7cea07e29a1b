"""Routing a request lists nothing.

moto lists its own package directory (a stat per service, ~150) to route
every request, under the dispatcher's lock, then lists the handler class's
methods (`inspect.getmembers`) to find the action's: neither changes once the
server serves, so each is listed once.
"""

from __future__ import annotations

import functools

from ..moto_version import written_against

written_against(__name__, "5.2.5")


def apply() -> None:
    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
