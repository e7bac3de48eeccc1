"""The suite's internal fixtures: registered only when --smartmaint is on (the public ones: public_fixtures).

A stack that cannot come up is diagnosed once: the first live item that needs it reports
the whole diagnosis as its setup error, every later one points to that item.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from .hooks import PLUGIN_KEY

if TYPE_CHECKING:  # the live stack's modules are imported only when a live item runs
    from ..live.stack import LiveStack


@dataclass
class BringUpFailure:
    """Why the stack could not be had, and which item reported it in full."""

    message: str
    reported_by: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def _smartmaint_session_stack(request: pytest.FixtureRequest) -> Iterator[LiveStack | BringUpFailure]:
    from ..live.lifecycle import live_stack
    from ..live.stack import StackHandle

    plugin = request.config.stash[PLUGIN_KEY]
    workerinput = getattr(request.config, "workerinput", {})
    handle = workerinput.get("smartmaint_stack")
    if handle is not None:  # an xdist worker: the controller brought the stack up once for all
        stack = StackHandle(**handle).attach(plugin.model, workerinput.get("workerid", "gw"))
        try:
            yield stack
        finally:
            if not stack.owned:  # a running deployment: what this worker registered goes again
                stack.remove_smoke_model()
        return
    if plugin.shared_stack is not None:
        yield plugin.shared_stack
        return
    up = False
    try:
        with live_stack(plugin.settings, plugin.model, plugin.project_name) as stack:
            if plugin.settings.keep:
                plugin.kept = stack
            up = True
            yield stack
        return
    except SmartmaintError as exc:
        if up:  # teardown itself failed: say so once, at the end of the session
            pytest.fail(str(exc), pytrace=False)
        failure = BringUpFailure(str(exc))
    yield failure


@pytest.fixture
def _smartmaint_live(request: pytest.FixtureRequest, _smartmaint_session_stack: LiveStack | BringUpFailure) -> LiveStack:
    stack = _smartmaint_session_stack
    if isinstance(stack, BringUpFailure):
        if stack.reported_by:
            pytest.fail(f"the stack could not be brought up; the diagnosis is reported once, "
                        f"at {stack.reported_by[0]}", pytrace=False)
        stack.reported_by.append(request.node.nodeid)
        pytest.fail(stack.message, pytrace=False)
    return stack
