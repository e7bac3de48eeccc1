"""The engine's disk: free space on its data root, and what `docker system df` says could be reclaimed.

A build that runs out of space dies with an error that does not say why ("no space left on
device" deep in a layer, or a truncated pip install). This is read before anything is built,
and never acted on: the plugin prunes nothing, it names the commands that would free space.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from .. import commands
from ..errors import SmartmaintError

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
    free_bytes: int | None  # None: the data root is not on this machine (a remote engine), or not readable
    reclaimable_images: int
    reclaimable_build_cache: int

    @staticmethod
    def gb(value: int) -> str:
        return f"{value / 1e9:.1f} GB"

    def summary(self) -> str:
        free = (
            f"{self.gb(self.free_bytes)} free" if self.free_bytes is not None else "free space unknown (remote engine)"
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


def _engine_host() -> str:
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    context = commands.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], timeout=30)
    return context.stdout.strip() if context.returncode == 0 else ""


def read_engine_disk() -> EngineDisk | None:
    """None when no engine answers (or there is no docker CLI)."""
    try:
        info = commands.run(["docker", "info", "--format", "{{.DockerRootDir}}"], timeout=30)
    except SmartmaintError:
        return None
    if info.returncode != 0 or not info.stdout.strip():
        return None
    root = info.stdout.strip()
    free: int | None = None
    local = _engine_host().startswith("unix://")  # a remote engine's data root is not this machine's path
    if local:
        try:
            stats = os.statvfs(root)
            free = stats.f_bavail * stats.f_frsize
        except OSError:
            free = None
    df = commands.run(["docker", "system", "df", "--format", "{{json .}}"], timeout=60)
    reclaimable: dict[str, int] = {}
    for line in df.stdout.splitlines() if df.returncode == 0 else []:
        row = json.loads(line)
        reclaimable[str(row.get("Type"))] = _bytes(str(row.get("Reclaimable", "")))
    return EngineDisk(root, free, reclaimable.get("Images", 0), reclaimable.get("Build Cache", 0))
