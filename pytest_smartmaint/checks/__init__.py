"""The built-in checks, listed once, in report order."""

from __future__ import annotations

from types import ModuleType

from . import (
    audio_deps,
    build_context,
    lock_consistency,
    mlflow_reachable,
    model_load,
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

# sqlite-backend runs last: it restarts and recreates the server.
LIVE_CHECKS: tuple[ModuleType, ...] = (
    volume_paths,
    uid_mapping,
    mlflow_reachable,
    audio_deps,
    model_load,
    sqlite_backend,
)
