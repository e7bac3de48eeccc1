"""Errors the plugin reports to its user as one paragraph, never as a traceback."""

from __future__ import annotations


class SmartmaintError(Exception):
    """Bad input or a bad environment: the message says what is wrong and how to fix it."""


class CheckFailure(AssertionError):
    """A check found a defect in the stack; the message is the full diagnosis."""


class SmartmaintWarning(UserWarning):
    """Something that works today but is a risk: reported in pytest's warnings summary."""
