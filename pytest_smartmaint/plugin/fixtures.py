"""The suite's internal fixtures: registered only when --smartmaint is on (the public ones: public_fixtures).

A stack that cannot come up is diagnosed once: the first live item that needs it reports
the whole diagnosis as its setup error, every later one points to that item.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from .stack_provider import PROVIDER_KEY, BringUpFailure

if TYPE_CHECKING:  # the live stack's modules are imported only when a live item runs
    from ..live.stack import LiveStack


@pytest.fixture(scope="session")
def _smartmaint_session_stack(request: pytest.FixtureRequest) -> Iterator[LiveStack | BringUpFailure]:
    provider = request.config.stash[PROVIDER_KEY]
    yield provider.acquire()
    try:
        provider.release()
    except SmartmaintError as exc:  # teardown itself failed: say so once, at the end of the session
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def _smartmaint_live(
    request: pytest.FixtureRequest, _smartmaint_session_stack: LiveStack | BringUpFailure
) -> LiveStack:
    stack = _smartmaint_session_stack
    if isinstance(stack, BringUpFailure):
        if stack.reported_by:
            pytest.fail(
                f"the stack could not be brought up; the diagnosis is reported once, at {stack.reported_by[0]}",
                pytrace=False,
            )
        stack.reported_by.append(request.node.nodeid)
        pytest.fail(stack.message, pytrace=False)
    return stack
