"""What every check is made of: a registry entry (`Check`) and its items (`Case`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, NoReturn, TypeVar

import pytest

from ..errors import CheckFailure
from ..static.stack_model import StackModel

if TYPE_CHECKING:
    from ..live.stack import LiveStack  # noqa: F401  (named in the string of LiveCase below)

Tier = Literal["static", "live"]
Subject = TypeVar("Subject", contravariant=True)  # what an item's run() judges: the StackModel or the LiveStack


@dataclass(frozen=True)
class Case(Generic[Subject]):
    """One item of the built-in suite: ``<check>[<tier>-<subject>]``."""

    check: str
    tier: Tier
    subject: str
    run: Callable[[Subject], None]
    services: tuple[str, ...] = ()  # whose logs a failure shows (live tier)

    @property
    def name(self) -> str:
        return f"{self.check}[{self.tier}-{self.subject}]"


StaticCase = Case[StackModel]
LiveCase = Case["LiveStack"]


@dataclass(frozen=True)
class Check:
    """One registered check: its two halves, each turning the stack model into items.

    ``destructive`` checks restart or recreate containers: the registry runs their live items
    after every other live item. ``explains_startup``: its static findings can keep a stack
    from coming up, so a failed bring-up lists them.
    """

    name: str
    static: Callable[[StackModel], list[StaticCase]] | None = None
    live: Callable[[StackModel], list[LiveCase]] | None = None
    destructive: bool = False
    explains_startup: bool = False


def not_applicable(check: str, tier: Tier, reason: str, subject: str = "n/a") -> Case[object]:
    """A case that is reported as skipped with its reason, rather than silently passing."""

    def skip(_: object) -> None:
        pytest.skip(reason)

    return Case(check, tier, subject, skip)


_FACTS: ContextVar[dict[str, object] | None] = ContextVar("smartmaint_facts", default=None)


def record_facts(**facts: object) -> None:
    """Facts an item found (JSON values), carried to the JSON report and junitxml as the property smartmaint_facts."""
    current = _FACTS.get()
    if current is not None:
        current.update(facts)


@contextmanager
def collecting_facts() -> Iterator[dict[str, object]]:
    facts: dict[str, object] = {}
    token = _FACTS.set(facts)
    try:
        yield facts
    finally:
        _FACTS.reset(token)


def fail(message: str) -> NoReturn:
    raise CheckFailure(message)


def table(rows: list[list[str]], indent: str = "    ") -> str:
    """Left-aligned columns, as in the design's failure messages."""
    widths = [max(len(r[i]) for r in rows) for i in range(max(len(r) for r in rows))]
    return "\n".join(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
