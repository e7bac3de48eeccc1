"""The built-in checks. Each module holds one check's static and live halves and registers them as ``CHECK``."""

from __future__ import annotations

from . import (
    artifact_store,
    audio_deps,
    backend_schema,
    build_context,
    database_backend,
    depends_reachable,
    engine_resources,
    lock_consistency,
    mlflow_reachable,
    mlflow_versions,
    model_load,
    serving,
    sqlite_backend,
    stale_image,
    swarm,
    tests_installed,
    uid_mapping,
    volume_paths,
)
from .registry import Registry

REGISTRY = Registry(
    (
        engine_resources.CHECK,  # first: a bring-up refused for lack of disk is reported at its item
        stale_image.CHECK,
        volume_paths.CHECK,
        uid_mapping.CHECK,
        sqlite_backend.CHECK,
        database_backend.CHECK,
        backend_schema.CHECK,
        audio_deps.CHECK,
        mlflow_reachable.CHECK,
        depends_reachable.CHECK,
        artifact_store.CHECK,
        model_load.CHECK,
        serving.CHECK,
        mlflow_versions.CHECK,
        tests_installed.CHECK,
        build_context.CHECK,
        lock_consistency.CHECK,
        swarm.CHECK,
    )
)
