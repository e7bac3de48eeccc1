"""The database migrations of the MLflow installed here: its release, and its alembic revisions, head first.

Read from the migration scripts the package ships (mlflow/store/db_migrations), through alembic as MLflow
itself reads them, without importing mlflow (2-3 s). Run inside a container as ``python -c <this file>``;
prints one JSON document.
"""

from __future__ import annotations

import importlib.util
import json
import os
from importlib import metadata
from typing import Any

out: dict[str, Any] = {"mlflow": None, "revisions": [], "error": None}
for distribution in ("mlflow", "mlflow-skinny"):
    try:
        out["mlflow"] = metadata.version(distribution)
        break
    except metadata.PackageNotFoundError:
        continue
spec = importlib.util.find_spec("mlflow")
if spec is None or not spec.submodule_search_locations:
    out["error"] = "no mlflow package is installed"
else:
    migrations = os.path.join(list(spec.submodule_search_locations)[0], "store", "db_migrations")
    try:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory(migrations)
        out["revisions"] = [r.revision for r in script.walk_revisions()]  # from the head down to the first
        out["heads"] = list(script.get_heads())
    except Exception as e:  # no alembic (mlflow-skinny), or no migrations directory
        out["error"] = type(e).__name__ + ": " + str(e).splitlines()[0][:300] if str(e) else type(e).__name__
print(json.dumps(out))
