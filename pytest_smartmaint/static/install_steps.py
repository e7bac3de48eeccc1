"""The one reader of Dockerfile RUN lines as commands, and of the install steps among them.

The image model (which Python packages an image declares), test-deps (which step installs pytest) and
database-backend (an install the files do not spell out) all read RUN lines through it, so they agree on
what a step is:
- ``pip``: pip, pip3.12, /opt/venv/bin/pip, ``python -m pip``, ``uv pip``: into the image's Python;
- ``pipx``: applications, each in a venv of its own: nothing it installs is importable by the image's Python;
- ``poetry`` and ``uv`` (sync, install, add): from the project's pyproject.toml;
- ``unread``: conda, mamba, micromamba, pipenv, pixi, pdm, hatch, make, a shell script: the files do not say what.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

SEPARATORS = ("&&", "||", ";", "|")
_SHELL_SPLIT = re.compile(r"&&|\|\||;|\|")
VERBS = frozenset({"install", "uninstall", "sync", "add", "remove"})
UNREAD_TOOLS = frozenset({"conda", "mamba", "micromamba", "pipenv", "pixi", "pdm", "hatch", "make"})


def commands(run: str) -> list[list[str]]:
    """The simple commands of one RUN value, as shell words (a line that does not parse is split on spaces)."""
    text = run.replace("\\\n", " ")
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        return [part.split() for part in _SHELL_SPLIT.split(text) if part.split()]
    found: list[list[str]] = []
    current: list[str] = []
    for word in words:
        if word in SEPARATORS:
            found.append(current)
            current = []
        elif word.endswith(";"):  # `a; b`: the separator sticks to the word before it
            current.append(word[:-1])
            found.append(current)
            current = []
        else:
            current.append(word)
    return [c for c in [*found, current] if c]


@dataclass(frozen=True)
class InstallStep:
    """One simple command that installs (or removes) Python packages."""

    installer: str  # pip, pipx, poetry, uv, unread
    verb: str | None  # install, uninstall, sync, add...; None for a script
    args: tuple[str, ...]  # the words after the verb
    words: tuple[str, ...]  # the whole command

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def installs(self) -> bool:
        return self.verb in ("install", "sync", "add")


def install_step(words: list[str]) -> InstallStep | None:
    """The install step ``words`` runs, or None when it runs no Python installer."""
    tool = posixpath.basename(words[0])
    rest = words[1:]
    if re.fullmatch(r"python[\d.]*", tool) and rest[:1] == ["-m"] and len(rest) > 1:
        tool, rest = rest[1], rest[2:]
    if tool == "uv" and rest[:1] == ["pip"]:
        tool, rest = "pip", rest[1:]
    if re.fullmatch(r"pip[\d.]*", tool):
        installer = "pip"
    elif tool in ("pipx", "poetry", "uv"):
        installer = tool
    elif (
        tool in UNREAD_TOOLS
        or tool.endswith(".sh")
        or (tool in ("sh", "bash") and rest[:1] and rest[0].endswith(".sh"))
    ):
        return InstallStep("unread", None, tuple(rest), tuple(words))
    else:
        return None
    verb_at = next((i for i, w in enumerate(rest) if w in VERBS), None)
    verb_at = verb_at if verb_at is not None else next((i for i, w in enumerate(rest) if not w.startswith("-")), None)
    if verb_at is None:
        return InstallStep(installer, None, (), tuple(words))
    return InstallStep(installer, rest[verb_at], tuple(rest[verb_at + 1 :]), tuple(words))


def install_steps(run_lines: Iterable[str]) -> list[InstallStep]:
    """Every install step of ``run_lines``, in order."""
    return [step for run in run_lines for words in commands(run) if (step := install_step(words)) is not None]
