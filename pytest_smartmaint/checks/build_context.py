"""build-context: what `docker build` ships is small and holds no datasets nor secrets.

The file list is the docker SDK's own ``.dockerignore`` matcher (``exclude_paths``),
so the verdict matches what the engine receives.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from ..static.stack_model import StackModel
from .base import Case, Check, StaticCase, fail, not_applicable

NAME = "build-context"
DATASET_PATTERNS = ("*.wav", "*.flac", "*.mp3", "*.csv", "*.parquet", "*.npy", "*.h5")
DATA_DIRS = ("data", "dataset", "datasets", "mlruns", "mlflow_data", "mlflow_db")
SECRET_NAMES = (".env",)


@dataclass(frozen=True)
class ContextContents:
    total_bytes: int
    datasets: list[tuple[str, int]]
    secrets: list[str]


def static_cases(model: StackModel) -> list[StaticCase]:
    contexts: dict[Path, list[str]] = {}
    for service in model.project.services.values():
        if service.build is not None:
            contexts.setdefault(service.build.context, []).append(service.name)
    if not contexts:
        return [not_applicable(NAME, "static", "no service has a build section")]
    return [
        Case(NAME, "static", _label(model, context), functools.partial(_check, context=context, services=tuple(names)))
        for context, names in sorted(contexts.items())
    ]


def _label(model: StackModel, context: Path) -> str:
    """The context as the compose file's directory sees it: ./ml, ../shared/ml (stable across clones)."""
    relative = Path(os.path.relpath(context, model.project.directory)).as_posix()
    return relative if relative.startswith((".", "/")) else f"./{relative}"


def read_contents(context: Path) -> ContextContents:
    from docker.utils.build import exclude_paths  # the docker SDK costs ~90 ms to import: only when used

    ignore = context / ".dockerignore"
    patterns = []
    if ignore.is_file():
        patterns = [
            line.strip()
            for line in ignore.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    total, datasets, secrets = 0, [], []
    for relative in exclude_paths(str(context), patterns):
        path = context / relative
        try:
            stat = path.lstat()
        except OSError:
            continue
        if not os.path.isfile(path) or path.is_symlink():
            continue
        total += stat.st_size
        parts = Path(relative).parts
        name = parts[-1]
        if any(fnmatch.fnmatch(name, p) for p in DATASET_PATTERNS) or any(p in DATA_DIRS for p in parts[:-1]):
            datasets.append((relative, stat.st_size))
        if name in SECRET_NAMES or (name.startswith(".env.") and not name.endswith(("example", "sample", "template"))):
            secrets.append(relative)
    return ContextContents(total, sorted(datasets, key=lambda d: -d[1]), sorted(secrets))


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _ignore_lines(paths: list[str]) -> list[str]:
    lines = []
    for path in paths:
        parts = Path(path).parts
        directory = next((p for p in parts[:-1] if p in DATA_DIRS), None)
        if directory is not None:
            line = "/".join(parts[: parts.index(directory) + 1]) + "/"
        else:
            suffix = Path(path).suffix
            line = f"**/*{suffix}" if suffix and any(fnmatch.fnmatch(path, p) for p in DATASET_PATTERNS) else path
        if line not in lines:
            lines.append(line)
    return lines


def _check(model: StackModel, context: Path, services: tuple[str, ...]) -> None:
    settings_limit = model.build_context_max_mb
    contents = read_contents(context)
    label = _label(model, context)
    problems = []
    if contents.datasets:
        shown = "\n".join(f"      {p}  ({_mb(s)})" for p, s in contents.datasets[:8])
        more = f"\n      ... and {len(contents.datasets) - 8} more" if len(contents.datasets) > 8 else ""
        problems.append(f"it ships data files the image does not need:\n{shown}{more}")
    if contents.secrets:
        problems.append(
            f"it ships env files that may hold secrets into the image layers: {', '.join(contents.secrets)}"
        )
    if contents.total_bytes > settings_limit * 1_000_000:
        problems.append(
            f"it sends {_mb(contents.total_bytes)} to the engine on every build (limit {settings_limit} MB, "
            "smartmaint_build_context_max_mb)"
        )
    if problems:
        lines = _ignore_lines([p for p, _ in contents.datasets] + contents.secrets)
        fix = "\n".join(f"    {line}" for line in lines) or "    <the large directories>"
        fail(
            f"The build context {label} (services {', '.join(services)}) is too heavy after .dockerignore:\n- "
            + "\n- ".join(problems)
            + f"\nEvery `docker compose build` uploads it first, and COPY . puts it in the image.\n"
            f"Fix, in {label}/.dockerignore, add:\n{fix}"
        )


CHECK = Check(NAME, static=static_cases)
