"""Typed memoisation for the live stack: a fact is computed once, and its outcome (value or error) remembered.

A cell per fact (per service, for facts probed in each service), not a dict keyed by strings: the type checker
knows what each one holds, and a fact that failed re-raises the same error to every check that needs it, without a
second probe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class Once(Generic[T]):
    """One value, computed by the first caller; later callers (any thread) get the same value or error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None
        self._error: Exception | None = None

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            if not self._done:
                try:
                    self._value = compute()
                except Exception as exc:  # remembered, re-raised to every check that needs it
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return cast(T, self._value)  # set: there was no error

    def peek(self) -> T | None:
        """The value, if it was computed and did not fail; never computes."""
        with self._lock:
            return self._value if self._done and self._error is None else None


class OnceEach(Generic[K, T]):
    """A value per key (a service) from a probe that runs in several containers side by side.

    The first caller that needs a key computes, at once, every key of the batch it names that nobody computed
    yet (``compute`` returns an outcome for every key it is given); each key's outcome (value or error) is then
    remembered like ``Once``'s. A caller whose batch is only its own key computes only that: under xdist's load
    scheduling another worker runs the other keys' items, and probing them here too would do their work twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[K, T | Exception] = {}

    def get(self, key: K, batch: Sequence[K], compute: Callable[[list[K]], Mapping[K, T | Exception]]) -> T:
        with self._lock:
            if key not in self._outcomes:
                todo = [k for k in dict.fromkeys((key, *batch)) if k not in self._outcomes]
                try:
                    self._outcomes.update(compute(todo))
                except Exception as exc:  # the whole batch's error, remembered for each of its keys
                    self._outcomes.update(dict.fromkeys(todo, exc))
        found = self._outcomes[key]
        if isinstance(found, Exception):
            raise found
        return found

    def one(self, key: K, compute: Callable[[], T]) -> T:
        """``key``'s value from a probe of that key alone (a batch of one)."""
        return self.get(key, (), lambda _: {key: compute()})
