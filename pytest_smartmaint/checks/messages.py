"""Wording every check shares: the compose snippet of a fix, and the common reasons to skip.

A fix reads the same in every message: ``Fix, in service <name>:`` and then the compose
lines, indented as in a compose file, so a user can paste them.
"""

from __future__ import annotations

NO_SERVER = "no MLflow server in the compose project (no service runs `mlflow server`)"


def fix_in(service: str, *snippets: str, how: str = "") -> str:
    """``Fix, in service X[, how]:`` followed by the compose lines of each snippet."""
    return f"Fix, in service {service}{', ' + how if how else ''}:\n" + "\n".join(snippets)


def environment(**variables: str) -> str:
    return "    environment:\n" + "\n".join(f"      {name}: {value}" for name, value in variables.items())


def volumes(*entries: str) -> str:
    return "    volumes:\n" + "\n".join(f"      - {entry}" for entry in entries)


def command(text: str) -> str:
    return f"    command: {text}"


def checked_live(check: str, subject: str, where: str = "in the running containers") -> str:
    """The end of a static skip: which live item settles what the files could not."""
    return f"the live item {check}[live-{subject}] checks it {where}"
