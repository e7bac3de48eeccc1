"""Delete the smoke model and everything logging it left (reuse mode: the user's registry).

Run inside a container as ``python -c <this file> <json arg>``; prints one JSON document.
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

arg = json.loads(sys.argv[1])
from mlflow import MlflowClient

client = MlflowClient()
out: dict[str, Any] = {}
for what, call in (
    ("registered model", lambda: client.delete_registered_model(arg["name"])),
    ("run", lambda: client.delete_run(arg["run_id"])),
    ("logged model", lambda: client.delete_logged_model(arg["model_id"])),
):
    if what == "logged model" and not arg.get("model_id"):
        continue  # MLflow 2.x: no logged-model entity
    try:
        call()
    except Exception as e:
        out[what] = type(e).__name__ + ": " + str(e)[:200]
location = arg.get("artifact_location") or ""
path = location[len("file://") :] if location.startswith("file://") else location
if path.startswith("/") and "/models/m-" in path:
    shutil.rmtree(path.split("/artifacts")[0], ignore_errors=True)
print(json.dumps(out))
