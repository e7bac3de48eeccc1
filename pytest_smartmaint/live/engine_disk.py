"""The engine's disk: free space on its data root, and what `docker system df` says could be reclaimed.

A build that runs out of space dies with an error that does not say why ("no space left on
device" deep in a layer, or a truncated pip install). This is read before anything is built,
and never acted on: the plugin prunes nothing, it names the commands that would free space.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .. import commands
from ..errors import SmartmaintError
from .engine_endpoint import engine_endpoint

_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
FREE_SPACE_COMMANDS = (
    "docker builder prune            # the build cache (rebuilds get slower once)",
    "docker image prune              # dangling images; add -a for every image no container uses",
    "docker system df -v             # what takes the space, item by item",
)


def _bytes(text: str) -> int:
    """``2.258GB (100%)`` -> 2258000000, as docker prints sizes (powers of 1000)."""
    match = re.match(r"([\d.]+)\s*([kKMGT]?B)", text.strip())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0


@dataclass(frozen=True)
class EngineDisk:
    root: str  # the engine's data root (DockerRootDir)
    free_bytes: int | None  # None: not readable, for the reason in ``unknown``
    reclaimable_images: int
    reclaimable_build_cache: int
    unknown: str = ""  # why the free space could not be read

    @staticmethod
    def gb(value: int) -> str:
        return f"{value / 1e9:.1f} GB"

    def summary(self) -> str:
        free = (
            f"{self.gb(self.free_bytes)} free"
            if self.free_bytes is not None
            else f"free space unknown ({self.unknown})"
        )
        return (
            f"{free} on {self.root}; reclaimable: images {self.gb(self.reclaimable_images)}, "
            f"build cache {self.gb(self.reclaimable_build_cache)}"
        )

    def shortage(self, min_free_gb: float) -> str | None:
        """Why nothing should be built, or None when the free space is known to be over the limit (or unknown)."""
        if self.free_bytes is None or min_free_gb <= 0 or self.free_bytes >= min_free_gb * 1e9:
            return None
        reclaimable = self.reclaimable_images + self.reclaimable_build_cache
        return (
            f"the Docker engine has {self.gb(self.free_bytes)} free on its data root {self.root}, under the "
            f"{min_free_gb:g} GB limit (ini smartmaint_min_free_gb): a build would likely die midway with an error "
            f"that does not say why.\n{self.gb(reclaimable)} could be reclaimed (images "
            f"{self.gb(self.reclaimable_images)}, build cache {self.gb(self.reclaimable_build_cache)}). "
            "pytest-smartmaint prunes nothing; these would free space:\n"
            + "\n".join(f"    {line}" for line in FREE_SPACE_COMMANDS)
            + "\nOr lower the limit: -o smartmaint_min_free_gb=N (0: no limit)."
        )


_READ_THROUGH_THE_ENGINE: dict[str, int] = {}  # image -> free bytes: one throwaway container per process


def _free_through_the_engine(images: Sequence[str]) -> tuple[int | None, str]:
    """A remote engine's free space, as its own machine sees it: ``df /`` in a throwaway container (no network,
    nothing mounted) of the first of ``images`` that the engine already has. A container's root is an
    overlay on the data root's filesystem, so that is what df reports. Else None and why."""
    try:
        for image in images:
            if image in _READ_THROUGH_THE_ENGINE:
                return _READ_THROUGH_THE_ENGINE[image], ""
            if commands.run(["docker", "image", "inspect", image], timeout=30).returncode != 0:
                continue
            run = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "df", image, "-Pk", "/"]
            done = commands.run(run, timeout=120)
            rows = done.stdout.strip().splitlines() if done.returncode == 0 else []
            fields = rows[-1].split() if len(rows) > 1 else []
            if len(fields) >= 4 and fields[3].isdigit():
                _READ_THROUGH_THE_ENGINE[image] = int(fields[3]) * 1024
                return _READ_THROUGH_THE_ENGINE[image], ""
            return None, f"the engine is remote, and `df` did not run in {image} there"
    except SmartmaintError as exc:  # a remote engine that stopped answering: the header must not crash on it
        return None, f"the engine is remote, and did not answer: {str(exc).splitlines()[0]}"
    return None, "the engine is remote, and has none of the stack's images yet"


def read_engine_disk(images: Sequence[str] = ()) -> EngineDisk | None:
    """None when no engine answers (or there is no docker CLI). On a remote engine the free space is read
    through one of ``images`` (the stack's), as the engine's machine sees it."""
    try:
        info = commands.run(["docker", "info", "--format", "{{.DockerRootDir}}"], timeout=30)
    except SmartmaintError:
        return None
    if info.returncode != 0 or not info.stdout.strip():
        return None
    root = info.stdout.strip()
    free: int | None = None
    unknown = ""
    if engine_endpoint().remote:  # its data root is a path of another machine
        free, unknown = _free_through_the_engine(images)
    else:
        try:
            stats = os.statvfs(root)
            free = stats.f_bavail * stats.f_frsize
        except OSError:
            unknown = f"{root} is not a path of this machine (an engine in a virtual machine?)"
    df = commands.run(["docker", "system", "df", "--format", "{{json .}}"], timeout=60)
    reclaimable: dict[str, int] = {}
    for line in df.stdout.splitlines() if df.returncode == 0 else []:
        row = json.loads(line)
        reclaimable[str(row.get("Type"))] = _bytes(str(row.get("Reclaimable", "")))
    return EngineDisk(root, free, reclaimable.get("Images", 0), reclaimable.get("Build Cache", 0), unknown)
