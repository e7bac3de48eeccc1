"""The built-in suite as real pytest items under a ``smartmaint`` collector.

Items are ``pytest.Function`` objects, so ``-k``, ``-m smartmaint``, ``--lf``, junitxml
and xdist treat them like any test: ids are ``smartmaint::<check>[<tier>-<subject>]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest
from pytest import ExceptionInfo

from ..checks import REGISTRY
from ..checks.base import LiveCase, StaticCase, collecting_facts
from ..errors import CheckFailure, SmartmaintError
from ..settings import Settings
from ..static.stack_model import StackModel
from . import COLLECTOR, LIVE_GROUP
from .pytest_internals import FuncFixtureInfo, TerminalRepr, callspec, fixture_info

if TYPE_CHECKING:
    from ..live.stack import LiveStack


def _run_static(smartmaint_model: StackModel) -> None:
    """The static items' function: its signature names the fixture; StaticItem.run_case runs the case."""


def _run_live(_smartmaint_live: LiveStack) -> None:
    """The live items' function: its signature names the fixture; LiveItem.run_case runs the case."""


def cases(model: StackModel, settings: Settings) -> tuple[list[StaticCase], list[LiveCase]]:
    """The suite's items, static then live, in the registry's order."""
    return REGISTRY.static_cases(model), [] if settings.static_only else REGISTRY.live_cases(model)


def node_ids(model: StackModel, settings: Settings) -> list[str]:
    static, live = cases(model, settings)
    return [f"{COLLECTOR}::{case.name}" for case in static] + [f"{COLLECTOR}::{case.name}" for case in live]


class SmartmaintItem(pytest.Function):
    case: StaticCase | LiveCase

    def runtest(self) -> None:
        try:
            with collecting_facts() as facts:
                try:
                    self.run_case()
                finally:
                    if facts:
                        self.user_properties.append(("smartmaint_facts", json.dumps(facts, sort_keys=True)))
        except CheckFailure:
            if self.case.tier == "live":
                self._attach_logs()
            raise

    def run_case(self) -> None:
        """The case, called with the item's fixture. Not through the `request` fixture: at 900 items, a
        FixtureRequest per item is a tenth of the static tier's time."""
        raise NotImplementedError

    def _attach_logs(self) -> None:
        live = cast("LiveStack", self.funcargs["_smartmaint_live"])
        if self.case.services:
            logs = live.runner.logs(self.case.services) or "(no log lines)"
            self.add_report_section("call", f"logs of {', '.join(self.case.services)}", logs)

    def repr_failure(self, excinfo: ExceptionInfo[BaseException]) -> str | TerminalRepr:  # type: ignore[override]
        if isinstance(excinfo.value, (CheckFailure, SmartmaintError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"smartmaint::{self.name}"


class StaticItem(SmartmaintItem):
    case: StaticCase

    def run_case(self) -> None:
        self.case.run(cast(StackModel, self.funcargs["smartmaint_model"]))


class LiveItem(SmartmaintItem):
    case: LiveCase

    def run_case(self) -> None:
        stack = cast("LiveStack", self.funcargs["_smartmaint_live"])
        services = self.case.services
        # a stopped container is the finding, not whatever a probe in it would say: before the case, from the
        # states read once for all items; after a failure, from the states as they are now (a service that died
        # during the checks)
        finding = stack.stopped_finding(services, self.nodeid) if services else None
        if finding:
            raise CheckFailure(finding)
        try:
            self.case.run(stack)
        except (CheckFailure, SmartmaintError):  # a probe's own error too: "Container ... is not running"
            finding = stack.stopped_finding(services, self.nodeid, fresh=True) if services else None
            if finding:
                raise CheckFailure(finding) from None
            raise


Item = TypeVar("Item", bound="SmartmaintItem")


class SmartmaintCollector(pytest.Collector):
    """Holds the suite; built from the stack model that pytest_configure loaded."""

    def __init__(self, *, model: StackModel, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.settings = settings

    def collect(self) -> Iterable[pytest.Item]:
        static, live = cases(self.model, self.settings)
        static_info, live_info = fixture_info(self, _run_static), fixture_info(self, _run_live)
        grouped = self.config.pluginmanager.hasplugin("xdist")
        for case in static:
            item = self._item(StaticItem, case, _run_static, static_info)
            item.case = case
            yield item
        for live_case in live:
            live_item = self._item(LiveItem, live_case, _run_live, live_info)
            live_item.case = live_case
            if grouped:
                live_item.add_marker(pytest.mark.xdist_group(LIVE_GROUP))
            yield live_item

    def _item(
        self, kind: type[Item], case: StaticCase | LiveCase, runner: Callable[..., None], info: FuncFixtureInfo | None
    ) -> Item:
        item = kind.from_parent(
            self,
            name=case.name,
            originalname=case.check,
            callspec=callspec(f"{case.tier}-{case.subject}"),
            callobj=runner,
            fixtureinfo=info,
        )
        item.add_marker("smartmaint")
        item.user_properties += [
            ("smartmaint_check", case.check),
            ("smartmaint_tier", case.tier),
            ("smartmaint_subject", case.subject),
        ]
        return item
