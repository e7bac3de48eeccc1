"""The checks the suite runs, and the order it runs them in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from ..errors import CheckFailure
from ..static.stack_model import StackModel
from .base import Check, LiveCase, StaticCase


@dataclass(frozen=True)
class Registry:
    """Checks in report order. Live items of destructive checks come after all others, whatever their place."""

    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.checks]
        if len(names) != len(set(names)):
            raise ValueError(f"checks registered twice: {sorted({n for n in names if names.count(n) > 1})}")

    def static_cases(self, model: StackModel, only: Iterable[str] | None = None) -> list[StaticCase]:
        wanted = set(only) if only is not None else None
        return [
            case
            for check in self.checks
            if check.static and (wanted is None or check.name in wanted)
            for case in check.static(model)
        ]

    def live_cases(self, model: StackModel) -> list[LiveCase]:
        ordered = sorted((c for c in self.checks if c.live), key=lambda c: c.destructive)  # stable: report order kept
        return [case for check in ordered if check.live for case in check.live(model)]

    def explaining_startup(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.explains_startup)

    def startup_findings(self, model: StackModel) -> list[str]:
        """What the checks registered as explaining a failed start prove wrong in the files (for a failed bring-up)."""
        found = []
        for case in self.static_cases(model, only=self.explaining_startup()):
            try:
                case.run(model)
            except CheckFailure as failure:
                found.append(f"smartmaint::{case.name} (from the files): {failure}")
            except pytest.skip.Exception:
                continue
        return found
