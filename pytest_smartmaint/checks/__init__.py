"""The built-in checks, listed once, in report order."""

from __future__ import annotations

from types import ModuleType

from . import (
    audio_deps,
    build_context,
    lock_consistency,
    mlflow_reachable,
    sqlite_backend,
    uid_mapping,
    volume_paths,
)

STATIC_CHECKS: tuple[ModuleType, ...] = (
    volume_paths,
    uid_mapping,
    sqlite_backend,
    audio_deps,
    mlflow_reachable,
    build_context,
    lock_consistency,
)

LIVE_CHECKS: tuple[ModuleType, ...] = (mlflow_reachable,)
