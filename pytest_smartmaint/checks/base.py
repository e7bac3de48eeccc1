"""What every check module produces: cases, one per pytest item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import pytest

from ..errors import CheckFailure

Tier = Literal["static", "live"]


@dataclass(frozen=True)
class Case:
    """One item of the built-in suite: ``<check>[<tier>-<subject>]``."""

    check: str
    tier: Tier
    subject: str
    run: Callable[[Any], None]
    services: tuple[str, ...] = ()  # whose logs a failure shows (live tier)

    @property
    def name(self) -> str:
        return f"{self.check}[{self.tier}-{self.subject}]"


def not_applicable(check: str, tier: Tier, reason: str, subject: str = "n/a") -> Case:
    """A case that is reported as skipped with its reason, rather than silently passing."""

    def skip(_: Any) -> None:
        pytest.skip(reason)

    return Case(check, tier, subject, skip)


def fail(message: str) -> NoReturn:
    raise CheckFailure(message)


def table(rows: list[list[str]], indent: str = "    ") -> str:
    """Left-aligned columns, as in the design's failure messages."""
    widths = [max(len(r[i]) for r in rows) for i in range(max(len(r) for r in rows))]
    return "\n".join(
        indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )
