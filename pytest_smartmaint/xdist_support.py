"""Under pytest-xdist the controller brings the stack up once and hands it to every worker.

Registered only when xdist is installed. Live items carry ``xdist_group("smartmaint-live")``,
so ``--dist loadgroup`` runs them in one worker, one after another; under other modes the
check that recreates the server skips, since it would pull the server from under the
checks other workers are running.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from .errors import SmartmaintError

if TYPE_CHECKING:
    from .plugin import SmartmaintPlugin

LIVE_GROUP = "smartmaint-live"


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None)) and (
        getattr(config.option, "dist", "no") != "no"
    )


class XdistController:
    def __init__(self, plugin: SmartmaintPlugin) -> None:
        self.plugin = plugin
        self.exit_stack = ExitStack()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not is_controller(session.config):
            return
        from .lifecycle import live_stack

        try:
            stack = self.exit_stack.enter_context(live_stack(self.plugin.settings, self.plugin.model,
                                                                     self.plugin.project_name))
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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        self.exit_stack.close()
