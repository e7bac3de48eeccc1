"""A fact and its probe, bound: each record of ``facts`` names the script that prints it (``PROBE``).

``probe(runner, service, SmokeModel, arg)`` runs that script in the service's container and parses what
it printed, as a testinfra module runs its own command. Adding a fact is its probe module, its record
with ``PROBE`` set, and one method of ``LiveStack`` that says when it is read.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Protocol, Self, TypeVar

from ..errors import SmartmaintError
from .compose_runner import EXEC_TIMEOUT_S, ComposeRunner
from .facts import Json
from .probes import source


class Fact(Protocol):
    PROBE: ClassVar[str]  # the module of live/probes that prints it

    @classmethod
    def parse(cls, raw: Json) -> Self: ...


F = TypeVar("F", bound=Fact)


@functools.cache
def script(name: str) -> str:
    return source(name)


def probe(runner: ComposeRunner, service: str, fact: type[F], arg: Any = None, timeout: float = EXEC_TIMEOUT_S) -> F:
    """``fact`` as ``service``'s container prints it; a probe that fails, or prints what the record cannot read,
    raises SmartmaintError naming the service."""
    printed = runner.python(service, script(fact.PROBE), arg, timeout).json()
    try:
        return fact.parse(printed)
    except (KeyError, TypeError, ValueError) as exc:
        raise SmartmaintError(f"the {fact.PROBE} probe in {service} printed what cannot be read: {exc!r}") from None


def probe_each(
    runner: ComposeRunner, services: Sequence[str], fact: type[F], arg: Any = None, timeout: float = EXEC_TIMEOUT_S
) -> dict[str, F | SmartmaintError]:
    """``fact`` in every one of ``services`` at once; a service whose probe failed holds its error."""

    def one(service: str) -> F | SmartmaintError:
        try:
            return probe(runner, service, fact, arg, timeout)
        except SmartmaintError as exc:  # this service's error alone
            return exc

    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        return dict(zip(services, pool.map(one, services), strict=True))
