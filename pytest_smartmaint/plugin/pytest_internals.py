"""Every use of pytest's and pytest-xdist's internals, in one place, each with its fallback.

The plugin builds items the way pytest's own parametrization does, and speaks to xdist's scheduler;
neither has a public API for that. What each internal is, and which versions it differs in, is said
here and tested once per supported pytest (tests/test_pytest_internals.py, run by CI on the oldest
pytest that pyproject admits and on the newest it pins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import _pytest.python
import pytest
from _pytest._code.code import TerminalRepr
from _pytest.fixtures import FuncFixtureInfo

__all__ = [
    "FuncFixtureInfo",
    "TerminalRepr",
    "callspec",
    "fixture_info",
    "stop_xdist_session",
    "worker_output",
    "xdist_grouped",
]

# What pytest's own parametrization records per item: CallSpec since pytest 9.1, CallSpec2 before.
_CALLSPEC: Any = getattr(_pytest.python, "CallSpec", None) or _pytest.python.CallSpec2


def callspec(item_id: str) -> Any:
    """A callspec whose id is ``item_id`` (``<tier>-<subject>``), as ``@pytest.mark.parametrize`` records it.

    pytest >= 9.2 builds a Function's node id from ``originalname`` and the callspec's ids, and
    ``--lf``/selection compare those parts: a name with the brackets glued on is not enough.
    """
    return _CALLSPEC(_idlist=(item_id,))


def fixture_info(collector: pytest.Collector, func: Callable[..., None]) -> FuncFixtureInfo | None:
    """``func``'s fixtures, resolved once for all the items that call it, as pytest's parametrization does.

    With 600 items, resolving them per item is a quarter of the static tier's time. The fixture
    manager (``session._fixturemanager``) is pytest's internal; where it is missing or its signature
    differs, None: pytest then resolves per item as usual.
    """
    manager = getattr(collector.session, "_fixturemanager", None)
    try:
        return manager.getfixtureinfo(node=cast(pytest.Item, collector), func=func, cls=None) if manager else None
    except TypeError:
        return None


def stop_xdist_session(config: pytest.Config, reason: str) -> None:
    """Stop an xdist run at once, with ``reason`` (xdist's ``dsession.shouldstop``: no hook does it)."""
    dsession = config.pluginmanager.getplugin("dsession")
    if dsession is not None:
        dsession.shouldstop = reason


def worker_output(config: pytest.Config) -> dict[str, Any]:
    """The dict an xdist worker sends back to the controller (``config.workeroutput``, set by xdist, untyped)."""
    return cast(dict[str, Any], getattr(config, "workeroutput"))  # noqa: B009


def xdist_grouped(nodeid: str, group: str) -> bool:
    """Whether xdist's ``--dist loadgroup`` took ``xdist_group(group)``: it appends ``@<group>`` to the node id.

    With pytest 9.2 and pytest-xdist 3.8 that does not take (pytest builds node ids from structured
    parts; xdist sets the old string); on pytest 9.0 it does.
    """
    return nodeid.endswith(f"@{group}")
