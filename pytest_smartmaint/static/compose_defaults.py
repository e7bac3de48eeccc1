"""Which files `docker compose` uses when it is given no ``-f``: the same ones, for both tiers.

The static tier could let compose find them, but the live tier adds a generated override with
``-f``, and a single ``-f`` turns compose's own search off. So the search is done here, by
compose's rules (compose-go ``cli/options.go``): ``COMPOSE_FILE`` (from the environment, else the
``.env`` file of the working directory), split on ``COMPOSE_PATH_SEPARATOR``; else the first of
compose's default names in the working directory or the nearest parent that has one, plus the
first override file beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


@dataclass(frozen=True)
class DefaultFiles:
    files: tuple[Path, ...]  # empty: compose finds none (its own error says so)
    reason: str  # for the header: why these files


def compose_default_files(directory: Path, environ: Mapping[str, str] = os.environ) -> DefaultFiles:
    variables = {**_dotenv(directory / ".env"), **environ}  # the environment wins over .env, as in compose
    listed = variables.get("COMPOSE_FILE", "")
    if listed:
        separator = variables.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        files = tuple(_absolute(directory, name) for name in listed.split(separator) if name)
        origin = "the environment" if environ.get("COMPOSE_FILE") else f"{directory / '.env'}"
        return DefaultFiles(files, f"COMPOSE_FILE in {origin}")
    for folder in (directory, *directory.parents):
        found = next((folder / n for n in DEFAULT_NAMES if (folder / n).is_file()), None)
        if found is None:
            continue
        override = next((folder / n for n in OVERRIDE_NAMES if (folder / n).is_file()), None)
        files = (found,) if override is None else (found, override)
        return DefaultFiles(
            files,
            "compose's default files: "
            + " + ".join(f.name for f in files)
            + ("" if folder == directory else f", found in {folder}"),
        )
    return DefaultFiles((), f"compose's default files ({', '.join(DEFAULT_NAMES)}): none in {directory} or above")


def _absolute(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _dotenv(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of a .env file (enough for COMPOSE_FILE; compose itself parses the rest)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    pairs = {}
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() in ("COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR"):
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs
