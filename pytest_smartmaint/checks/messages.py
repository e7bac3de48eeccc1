"""Wording every check shares: the compose snippet of a fix, and the common reasons to skip.

A fix reads the same in every message: ``Fix, in service <name>:`` and then the compose
lines, indented as in a compose file, so a user can paste them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..static.stack_model import StackModel

NO_SERVER = "no MLflow server in the compose project (no service runs `mlflow server`)"


def no_server(model: StackModel) -> str:
    """Why no item applies: no server, or a script that would say and that the files do not show."""
    unread = model.roles.unreadable_scripts
    if not unread:
        return NO_SERVER
    scripts = ", ".join(f"{service} runs {script}" for service, script in unread)
    return (
        f"no service is known to run `mlflow server`: {scripts}, which the files do not show (neither COPYed from a "
        "build context nor bind-mounted); name the server with smartmaint_server if it is one"
    )


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
