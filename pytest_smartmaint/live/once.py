"""Typed memoisation for the live stack: a fact is computed once, and its outcome (value or error) remembered.

A cell per fact, not a dict keyed by strings: the type checker knows what each one holds, and a fact
that failed re-raises the same error to every check that needs it, without a second probe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
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


class OncePer(Generic[K, T]):
    """A ``Once`` per key (a service): each key's value is computed once, independently of the others."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[K, Once[T]] = {}

    def get(self, key: K, compute: Callable[[], T]) -> T:
        with self._lock:
            cell = self._cells.setdefault(key, Once())
        return cell.get(compute)
