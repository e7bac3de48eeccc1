"""Under pytest-xdist: the stack comes up once, and every suite item runs exactly once.

Registered only when xdist is installed. The controller brings the stack up once and hands
it to every worker. Live items carry ``xdist_group("smartmaint-live")``, so ``--dist
loadgroup`` runs them in one worker, one after another; under other modes the check that
recreates the server skips, since it would pull the server from under the checks other
workers are running.

xdist schedules by node id, so items that shared an id once collapsed into one and the run
stayed green with a third of the suite. Every worker therefore reports the suite items it
collected (before any deselection), and the controller compares them with its own list: a
duplicate id stops the run at once, any other difference fails it at the end.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import pytest
from xdist import is_xdist_controller

from ..errors import SmartmaintError
from .pytest_internals import stop_xdist_session, worker_output
from .stack_provider import PROVIDER_KEY, WORKER_INPUT, BringUpFailure, StackProvider

COLLECTED = "smartmaint_collected"  # workeroutput key: the suite's node ids a worker collected


class XdistWorker:
    """In a worker: remember which suite items were collected, before -k/-m deselect any."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        worker_output(self.config)[COLLECTED] = [
            item.nodeid for item in items if item.nodeid.startswith("smartmaint::")
        ]


class XdistController:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.mismatches: list[str] = []
        self.teardown_error: str | None = None

    @property
    def provider(self) -> StackProvider:
        return self.config.stash[PROVIDER_KEY]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if (
            not is_xdist_controller(session)
            or not self.config.option.numprocesses
            or self.provider.settings.static_only
            or self.config.option.collectonly
        ):
            return
        stack = self.provider.acquire()  # once, here: every worker attaches to it
        if isinstance(stack, BringUpFailure):
            pytest.exit(f"pytest-smartmaint: {stack.message}", returncode=pytest.ExitCode.TESTS_FAILED)

    def pytest_configure_node(self, node: Any) -> None:
        exclusive = getattr(node.config.option, "dist", "") == "loadgroup"
        handle = self.provider.worker_input(exclusive)
        if handle is not None:
            node.workerinput[WORKER_INPUT] = handle

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        duplicated = sorted(i for i, n in Counter(ids).items() if n > 1 and i.startswith("smartmaint::"))
        if duplicated:
            stop_xdist_session(
                self.config,
                f"pytest-smartmaint: worker {node.gateway.id} collected suite items that share a node id "
                f"({', '.join(duplicated[:5])}); xdist would run each of them once and skip the rest silently",
            )

    @functools.cached_property
    def expected(self) -> list[str]:
        """The suite's node ids as this process would collect them; computed only when workers report."""
        from .suite import node_ids

        return node_ids(self.provider.model, self.provider.settings)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        collected = getattr(node, "workeroutput", {}).get(COLLECTED)
        if collected is None or sorted(collected) == sorted(self.expected):
            return
        missing = sorted(set(self.expected) - set(collected))
        extra = sorted(set(collected) - set(self.expected))
        self.mismatches.append(
            f"worker {node.gateway.id} collected {len(collected)} suite items ({len(set(collected))} distinct ids), "
            f"the controller {len(self.expected)}"
            + (f"; missing: {', '.join(missing[:5])}" if missing else "")
            + (f"; unexpected: {', '.join(extra[:5])}" if extra else "")
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self.provider.release()
        except SmartmaintError as exc:
            self.teardown_error = str(exc)
        if (self.mismatches or self.teardown_error) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.teardown_error:
            terminalreporter.write_sep("=", "smartmaint: the stack's teardown failed", red=True)
            terminalreporter.write_line(self.teardown_error)
        if self.mismatches:
            terminalreporter.write_sep("=", "smartmaint: xdist workers did not run the whole suite", red=True)
            for line in self.mismatches:
                terminalreporter.write_line(line)
            terminalreporter.write_line("The run fails: a suite item that no worker collected was not checked.")
