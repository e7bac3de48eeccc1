"""Every external command the plugin runs goes through here, with a timeout.

A hung ``docker`` call becomes one clear error that names the command and the limit,
never a run that hangs or a bare ``TimeoutExpired`` traceback.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence

from .errors import SmartmaintError


class CommandTimeout(SmartmaintError):
    """A command did not finish within its limit."""


def run(
    argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``, capture its output as text, never raise on a non-zero exit."""
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError:
        raise SmartmaintError(
            f"`{argv[0]}` is not installed or not on PATH (needed for `{shlex.join(argv)}`). "
            "The live tier needs the docker CLI with Compose v2; the static tier needs `docker compose` only."
        ) from None
    except subprocess.TimeoutExpired as exc:
        text = "".join(_text(part) for part in (exc.stdout, exc.stderr))
        tail = "\n".join(text.strip().splitlines()[-10:])
        raise CommandTimeout(
            f"`{shlex.join(argv)}` did not finish within {timeout:g} s and was stopped."
            + (f" Its last output:\n{tail}" if tail else " It printed nothing.")
            + "\nIs the Docker engine responsive (`docker info`)? A build or a container that hangs shows in "
            "`docker compose ps` and `docker compose logs`."
        ) from None


def _text(output: bytes | str | None) -> str:
    """What a timed-out process had printed (bytes, although ``text=True`` was asked for)."""
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""
