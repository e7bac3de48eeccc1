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

import dataclasses
import functools
from collections import Counter
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import SmartmaintError

if TYPE_CHECKING:
    from .hooks import SmartmaintPlugin

LIVE_GROUP = "smartmaint-live"
COLLECTED = "smartmaint_collected"  # workeroutput key: the suite's node ids a worker collected


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None)) and (
        getattr(config.option, "dist", "no") != "no"
    )


class XdistWorker:
    """In a worker: remember which suite items were collected, before -k/-m deselect any."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        output: dict[str, Any] = getattr(self.config, "workeroutput")
        output[COLLECTED] = [item.nodeid for item in items if item.nodeid.startswith("smartmaint::")]


class XdistController:
    def __init__(self, plugin: SmartmaintPlugin) -> None:
        self.plugin = plugin
        self.exit_stack = ExitStack()
        self.mismatches: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not is_controller(session.config) or self.plugin.settings.static_only:
            return
        from ..live.lifecycle import live_stack

        try:
            stack = self.exit_stack.enter_context(
                live_stack(self.plugin.settings, self.plugin.model, self.plugin.project_name))
        except SmartmaintError as exc:
            self.exit_stack.close()
            pytest.exit(f"pytest-smartmaint: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
        self.plugin.shared_stack = stack
        if self.plugin.settings.keep:
            self.plugin.kept = stack

    def pytest_configure_node(self, node: Any) -> None:
        if self.plugin.shared_stack is not None:
            exclusive = getattr(node.config.option, "dist", "") == "loadgroup"
            node.workerinput["smartmaint_stack"] = dataclasses.asdict(self.plugin.shared_stack.handle(exclusive))

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        duplicated = sorted(i for i, n in Counter(ids).items() if n > 1 and i.startswith("smartmaint::"))
        if duplicated:
            dsession = self.plugin.config.pluginmanager.getplugin("dsession")
            dsession.shouldstop = (
                f"pytest-smartmaint: worker {node.gateway.id} collected suite items that share a node id "
                f"({', '.join(duplicated[:5])}); xdist would run each of them once and skip the rest silently"
            )

    @functools.cached_property
    def expected(self) -> list[str]:
        """The suite's node ids as this process would collect them; computed only when workers report."""
        from .suite import node_ids

        return node_ids(self.plugin.model, self.plugin.settings)

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
        self.exit_stack.close()
        if self.mismatches and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.mismatches:
            terminalreporter.write_sep("=", "smartmaint: xdist workers did not run the whole suite", red=True)
            for line in self.mismatches:
                terminalreporter.write_line(line)
            terminalreporter.write_line("The run fails: a suite item that no worker collected was not checked.")
