"""The check registry: the order of the items, whatever order the checks are registered in."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO
from pytest_smartmaint.checks import REGISTRY
from pytest_smartmaint.checks.base import Case, Check, LiveCase
from pytest_smartmaint.checks.registry import Registry
from pytest_smartmaint.static.stack_model import StackModel


def _check(name: str, destructive: bool = False) -> Check:
    def live(model: StackModel) -> list[LiveCase]:
        return [Case(name, "live", "x", lambda stack: None)]

    return Check(name, live=live, destructive=destructive)


def test_destructive_live_items_run_after_all_others_wherever_registered() -> None:
    registry = Registry((_check("recreates-server", destructive=True), _check("a"), _check("b")))
    model: StackModel = None  # type: ignore[assignment]  # the fake halves never read it
    assert [case.check for case in registry.live_cases(model)] == ["a", "b", "recreates-server"]


def test_a_check_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"checks registered twice: \['a'\]"):
        Registry((_check("a"), _check("a")))


def test_the_suite_lists_the_destructive_items_last() -> None:
    destructive = {check.name for check in REGISTRY.checks if check.destructive}
    assert "sqlite-backend" in destructive  # the reference stack has destructive items to list
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--smartmaint", "-m", "smartmaint", "--co", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.splitlines()
    live = [line for line in listed if line.startswith("smartmaint::") and "[live-" in line]
    tail = [line for line in live if line.split("::")[1].split("[")[0] in destructive]
    assert tail and live[-len(tail) :] == tail, live
