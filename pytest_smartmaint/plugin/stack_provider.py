"""The one owner of the live stack in a pytest process, kept in ``config.stash[PROVIDER_KEY]``.

It acquires the stack (brings one up, or attaches to ``--smartmaint-project``), hands it to
xdist workers, and releases it: the smoke model it registered on a stack it did not start,
``down`` and the run directory of one it did, and the summary of a stack kept by
``--smartmaint-keep``. In an xdist worker it attaches to the stack the controller acquired
and releases only what that worker registered.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError

if TYPE_CHECKING:  # imported only when the suite is on (the model) or a live item runs (the stack)
    from ..live.stack import LiveStack, StackHandle
    from ..settings import Settings
    from ..static.stack_model import StackModel

WORKER_INPUT = "smartmaint_stack"  # xdist workerinput key: the controller's StackHandle, as a dict


@dataclass
class BringUpFailure:
    """Why the stack could not be had, and which item reported it in full."""

    message: str
    reported_by: list[str] = field(default_factory=list)


class StackProvider:
    def __init__(self, config: pytest.Config, settings: Settings, model: StackModel, project_name: str) -> None:
        self.config = config
        self.settings = settings
        self.model = model
        self.project_name = project_name  # named up front, for the header
        self.kept: LiveStack | None = None  # left running by --smartmaint-keep
        self._stack: LiveStack | BringUpFailure | None = None
        # in an xdist worker: did xdist put the live items in one group (one worker)? See pytest_collection_modifyitems
        self.grouped = False
        self._release = ExitStack()

    def acquire(self) -> LiveStack | BringUpFailure:
        """The stack, acquired on first use; a failure to acquire it is kept and returned to every caller."""
        if self._stack is None:
            self._stack = self._acquire()
        return self._stack

    def _acquire(self) -> LiveStack | BringUpFailure:
        from ..checks import REGISTRY
        from ..live.lifecycle import live_stack
        from ..live.stack import StackHandle

        workerinput: dict[str, object] = getattr(self.config, "workerinput", {})
        handle = workerinput.get(WORKER_INPUT)
        if isinstance(handle, dict):  # an xdist worker: the controller acquired the stack for all
            alone = self.grouped or workerinput.get("workercount") == 1
            attached = StackHandle(**{**handle, "exclusive": bool(handle.get("exclusive")) and alone})
            stack = attached.attach(self.model, str(workerinput.get("workerid", "gw")), self.settings.min_free_gb)
            if not stack.owned:  # a running deployment: what this worker registered goes again
                self._release.callback(stack.remove_smoke_model)
            return stack
        try:
            stack = self._release.enter_context(
                live_stack(self.settings, self.model, self.project_name, REGISTRY.startup_findings)
            )
        except SmartmaintError as exc:  # live_stack has cleaned up after itself
            return BringUpFailure(str(exc))
        if self.settings.keep:
            self.kept = stack
        return stack

    def handle(self, exclusive: bool) -> StackHandle | None:
        """What a worker needs to attach, once the stack is up; ``exclusive``: no other worker runs live items."""
        stack = self._stack
        return None if stack is None or isinstance(stack, BringUpFailure) else stack.handle(exclusive)

    def worker_input(self, exclusive: bool) -> dict[str, object] | None:
        handle = self.handle(exclusive)
        return dataclasses.asdict(handle) if handle is not None else None

    def release(self) -> None:
        """Undo what acquiring did; raises SmartmaintError, naming what is left, if teardown fails."""
        self._release.close()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Whether xdist really grouped the live items: its loadgroup marks their node ids with ``@<group>``.

        With pytest 9.2 and pytest-xdist 3.8 that mark does not take (pytest builds node ids from
        structured parts; xdist sets the old string), so `--dist loadgroup` spreads the live items over
        the workers like `--dist load`. Then no worker may recreate the server under the others.
        """
        from . import LIVE_GROUP
        from .pytest_internals import xdist_grouped

        self.grouped = any(xdist_grouped(item.nodeid, LIVE_GROUP) for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        stack = self.kept
        if stack is None:
            return
        compose = " ".join(f"-f {f}" for f in stack.runner.files)
        run_dir = f" && rm -rf {stack.isolation.run_dir}" if stack.isolation else ""
        terminalreporter.write_sep("-", "smartmaint: stack kept (--smartmaint-keep)")
        from ..live.engine_endpoint import engine_endpoint
        from ..live.swarm_runner import STACK_LABEL, SwarmRunner

        engine = engine_endpoint().env_prefix()  # the engine this run used, for another shell
        if isinstance(stack.runner, SwarmRunner):
            name = stack.project
            terminalreporter.write_line(f"swarm stack {name}: {engine}docker stack ps {name}")
            terminalreporter.write_line(
                f"remove it with: {engine}docker stack rm {name}; sleep 15; {engine}docker volume rm "
                f"$({engine}docker volume ls -q --filter label={STACK_LABEL}={name}){run_dir}"
            )
            return
        terminalreporter.write_line(f"project {stack.project}: {engine}docker compose -p {stack.project} {compose} ps")
        terminalreporter.write_line(
            f"remove it with: {engine}docker compose -p {stack.project} {compose} down --volumes{run_dir}"
        )


PROVIDER_KEY = pytest.StashKey[StackProvider]()
