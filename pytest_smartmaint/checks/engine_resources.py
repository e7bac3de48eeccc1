"""engine-resources: the engine has the disk to build and run the stack (read before bring-up, never pruned)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, fail, record_facts

if TYPE_CHECKING:
    from ..live.stack import LiveStack

NAME = "engine-resources"


def live_cases(model: StackModel) -> list[LiveCase]:
    return [Case(NAME, "live", "engine", _live)]


def _live(stack: LiveStack) -> None:
    disk = stack.engine_disk()
    if disk is None:
        fail("the Docker engine did not answer `docker info`")
    record_facts(
        data_root=disk.root,
        free_bytes=disk.free_bytes,
        reclaimable_images_bytes=disk.reclaimable_images,
        reclaimable_build_cache_bytes=disk.reclaimable_build_cache,
        min_free_gb=stack.min_free_gb,
    )
    if disk.free_bytes is None:
        pytest.skip(
            f"the free space of the engine's data root {disk.root} could not be read: {disk.unknown} "
            f"(reclaimable: images {disk.gb(disk.reclaimable_images)}, "
            f"build cache {disk.gb(disk.reclaimable_build_cache)})"
        )
    shortage = disk.shortage(stack.min_free_gb)
    if shortage:
        fail(shortage)


CHECK = Check(NAME, live=live_cases)
