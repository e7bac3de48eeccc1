"""build-context: what `docker build` ships is small and holds no datasets nor secrets.

BuildKit (Compose v2 builds with it) transfers only what the Dockerfile's COPY/ADD reference,
after ``.dockerignore``: a 50 MB file that no COPY names is never sent. So the files judged are
those the image's COPY/ADD instructions reach (the docker SDK's own ``.dockerignore`` matcher,
``exclude_paths``, decides what the ignore file lets through). A dataset is told by its file type
or its size, not by the name of a directory; a file that a COPY names (``COPY data/train.csv .``)
is shipped on purpose, and no fix proposed here would stop that COPY working.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..static.image_facts import ContextCopy
from ..static.stack_model import StackModel
from .base import Case, Check, StaticCase, fail, not_applicable, record_facts

NAME = "build-context"
DATASET_PATTERNS = ("*.wav", "*.flac", "*.mp3", "*.csv", "*.parquet", "*.npy", "*.h5", "*.pkl", "*.zip", "*.tar.gz")
DATASET_MIN_BYTES = 50 * 10**6  # a file this large ships data, whatever its type
SECRET_NAMES = (".env",)


@dataclass(frozen=True)
class Shipped:
    relative: str  # path in the context
    size: int
    by_name: bool  # a COPY names it (or a directory holding it): shipped on purpose


@dataclass(frozen=True)
class ContextContents:
    files: list[Shipped]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def datasets(self) -> list[tuple[str, int]]:
        found = [(f.relative, f.size) for f in self.files if not f.by_name and is_dataset(f.relative, f.size)]
        return sorted(found, key=lambda d: -d[1])

    @property
    def secrets(self) -> list[str]:
        return sorted(f.relative for f in self.files if not f.by_name and is_secret(posixpath.basename(f.relative)))


def is_dataset(relative: str, size: int) -> bool:
    return size >= DATASET_MIN_BYTES or any(fnmatch.fnmatch(posixpath.basename(relative), p) for p in DATASET_PATTERNS)


def is_secret(name: str) -> bool:
    return name in SECRET_NAMES or (name.startswith(".env.") and not name.endswith(("example", "sample", "template")))


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


def _ignore_patterns(context: Path) -> list[str]:
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return []
    lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _reaches(copy: ContextCopy, relative: str) -> bool | None:
    """None: the copy does not reach the file; False: through the whole context; True: by a name."""
    if copy.whole_context:
        return False
    for source in copy.sources:
        source = posixpath.normpath(source.lstrip("/"))
        if relative == source or relative.startswith(source + "/") or fnmatch.fnmatch(relative, source):
            return True
    return None


def read_contents(context: Path, copies: list[ContextCopy]) -> ContextContents:
    """The files of ``context`` that ``copies`` ship, after .dockerignore."""
    from docker.utils.build import exclude_paths  # the docker SDK costs ~90 ms to import: only when used

    files = []
    for relative in sorted(exclude_paths(str(context), _ignore_patterns(context))):
        path = context / relative
        if not os.path.isfile(path) or path.is_symlink():
            continue
        reached = [r for c in copies if (r := _reaches(c, Path(relative).as_posix())) is not None]
        if reached:
            files.append(Shipped(Path(relative).as_posix(), path.lstat().st_size, by_name=any(reached)))
    return ContextContents(files)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _ignore_lines(paths: list[str], named: list[str]) -> list[str]:
    """.dockerignore lines for ``paths`` that exclude nothing a COPY names (``named``)."""
    lines = []
    for path in paths:
        suffix = "".join(Path(path).suffixes[-1:])
        glob = f"**/*{suffix}"
        wide = suffix and not any(fnmatch.fnmatch(n, f"*{suffix}") for n in named)
        line = glob if wide and is_dataset(path, 0) else path
        if line not in lines:
            lines.append(line)
    return lines


def _check(model: StackModel, context: Path, services: tuple[str, ...]) -> None:
    label = _label(model, context)
    for name in services:
        build = model.service(name).build
        if build is not None and not context.is_dir():
            fail(
                f"The build context of service {name} does not exist: {label} (compose resolves it to {context}).\n"
                f"`docker compose build {name}` fails before any step. Fix `build.context` in service {name}, "
                "or create the directory."
            )
        if build is not None and build.inline is None and not build.dockerfile.is_file():
            fail(
                f"The Dockerfile of service {name} does not exist: {build.dockerfile} (in its build context "
                f"{label}). Fix `build.dockerfile` (it is relative to `build.context`)."
            )
    copies = [
        c for n in services if (facts := model.images.get(n)) for c in facts.context_copies if c.context == context
    ]
    unresolved = [c for c in copies if not c.resolvable]
    contents = read_contents(context, [c for c in copies if c.resolvable])
    record_facts(transferred_files=len(contents.files), transferred_bytes=contents.total_bytes)
    settings_limit = model.build_context_max_mb
    problems = []
    whole = next((c for c in copies if c.whole_context), None)
    copy_text = f"`COPY {' '.join(whole.sources)} {whole.dest}`" if whole else "COPY"
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
            f"its COPY/ADD instructions send {_mb(contents.total_bytes)} to the engine on every build "
            f"(limit {settings_limit} MB, smartmaint_build_context_max_mb)"
        )
    if problems:
        named = [f.relative for f in contents.files if f.by_name]
        lines = _ignore_lines([p for p, _ in contents.datasets] + contents.secrets, named)
        fix = "\n".join(f"    {line}" for line in lines) or "    <the large files>"
        fail(
            f"The build context {label} (services {', '.join(services)}) ships what the image does not need, "
            "after .dockerignore:\n- "
            + "\n- ".join(problems)
            + f"\nEvery `docker compose build` transfers it, and the Dockerfile's {copy_text} puts it in the image.\n"
            f"Fix, in {label}/.dockerignore, add:\n{fix}"
        )
    if unresolved:
        sources = ", ".join(" ".join(c.sources) for c in unresolved)
        pytest.skip(f"a COPY/ADD source is not a literal path ({sources}): what it ships is decided at build time")


CHECK = Check(NAME, static=static_cases)
